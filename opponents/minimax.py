"""Alpha-beta minimax with a transposition table, for any game, with randomized tie-breaking.

The player to move is whoever `game.to_move` names, so turns need not alternate (passes, extra turns): the
search returns player 0's values, which a node maximises where player 0 moves and minimises where player 1
does (one loop: it works in the mover's frame, as negamax does, and turns back). Table entries, `value` and
`move_values` are from the side of the player to move. A finished game is worth its `returns` for
player 0, never "a win for whoever moved last", so misere games and games decided by a score come out right.
A result is proven once the game ends: `WIN` for a full win (returns +-1; a smaller return a smaller
proven value, still above every heuristic value), pulled one step toward 0 per ply so that faster wins and
slower losses are preferred. Depth-limited leaves use the game's heuristic scaled to +-`HEURISTIC_SCALE`,
well inside the proven range. Ties among the best root moves are broken uniformly at random (a model trained
against a first-best tie-break memorises its lines), or by the lowest move with `tie_break="first"`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from arena.errors import ArenaError, GameOverError, OpponentSpecError
from arena.games.base import DRAW, Game

from .base import Opponent

MAX_PLIES = 1 << 10  # proven values keep their return's rank for games up to this many moves
_RETURN_LEVELS = 1 << 16  # resolution of a finished game's return in (0, 1]
_PROVEN = 1 << 20  # smallest proven |value| (a return just above 0, at the end of the game)
WIN = _PROVEN + _RETURN_LEVELS * MAX_PLIES  # a full win (return 1), zero plies away
HEURISTIC_SCALE = 10_000
_WON = _PROVEN // 2  # any |value| above this is a proven result
_INF = 10 * WIN
_EXACT, _LOWER, _UPPER = 0, 1, 2
_UNLIMITED = 1 << 20


def _one_ply_back(value: int) -> int:
    """A child's value seen from its parent: proven results move one ply further away (toward 0)."""
    if value > _WON:
        return value - 1
    if value < -_WON:
        return value + 1
    return value


def proven_value(payoff: float) -> int:
    """The search value of a finished game worth `payoff` (in [-1, 1]) to a player; 0 for a draw.

    Returns keep their order, and any win ranks above any unfinished line, however the heuristic scores it.
    """
    if payoff == 0:
        return 0
    level = _PROVEN + round(abs(payoff) * _RETURN_LEVELS) * MAX_PLIES
    return level if payoff > 0 else -level


def is_win(value: int) -> bool:
    return value > _WON


def is_loss(value: int) -> bool:
    return value < -_WON


class Minimax(Opponent):
    """Alpha-beta minimax over `game`; `depth=None` searches to the end of the game (exact play)."""

    def __init__(
        self,
        game: Game[Any],
        depth: int | None = None,
        tie_break: Literal["random", "first"] = "random",
        max_table_size: int = 2_000_000,
        heuristic: bool = True,
    ) -> None:
        super().__init__(game)
        if depth is not None and depth < 1:
            raise OpponentSpecError(f"search depth must be at least 1 (or None for exact play), got {depth}")
        if tie_break not in ("random", "first"):
            raise OpponentSpecError(f"tie_break must be 'random' or 'first', got {tie_break!r}")
        self.depth, self.tie_break, self.max_table_size = depth, tie_break, max_table_size
        self.heuristic = heuristic
        if game.info.max_game_length >= MAX_PLIES:
            raise ArenaError(
                f"{game.name} declares max_game_length {game.info.max_game_length}; minimax ranks results for "
                f"games of fewer than {MAX_PLIES} moves"
            )
        # Games that keep the default `returns` are scored from `winner` alone (the fast path).
        self._own_returns = type(game).returns is not Game.returns
        self.name = (
            ("perfect" if depth is None else f"depth-{depth}")
            + ("" if heuristic or depth is None else "-flat")
            + ("-first" if tie_break == "first" else "")
        )
        self._table: dict[Any, tuple[int, int, int, int]] = {}  # key -> (depth, flag, value, best move)
        self._best_moves: dict[Any, tuple[int, ...]] = {}  # root key -> all moves of the best value

    def __getstate__(self) -> dict[str, Any]:
        # Caches are rebuilt on demand; a pickled opponent stays small.
        return {**self.__dict__, "_table": {}, "_best_moves": {}}

    def choose(self, state: Any, rng: np.random.Generator) -> int:
        best = self.best_moves(state)
        if self.tie_break == "first" or len(best) == 1:
            return best[0]
        return best[int(rng.integers(len(best)))]

    def best_moves(self, state: Any) -> tuple[int, ...]:
        """Every legal move whose value equals the best value for the player to move, ascending. Cached."""
        key = self.game.key(state)
        cached = self._best_moves.get(key)
        if cached is not None:
            return cached
        if not self.game.legal_moves(state):
            raise GameOverError(f"no legal move: the game is over in {state}")
        sign = self._sign(state)
        best_value, best = -_INF, []
        depth = self._child_depth()
        for move in self._ordered(state, key):
            # In the mover's frame the window is (best - 1, inf), widened by one for `_one_ply_back`: a move
            # that can tie gets its exact value, a worse one only a bound, which is all we need to discard it.
            low, high = (best_value - 2, _INF) if sign > 0 else (-_INF, 2 - best_value)
            value = sign * _one_ply_back(self._search(self.game.apply(state, move), depth, low, high))
            if value > best_value:
                best_value, best = value, [move]
            elif value == best_value:
                best.append(move)
        result = tuple(sorted(best))
        self._remember(self._best_moves, key, result)
        return result

    def move_values(self, state: Any) -> dict[int, int]:
        """The exact (depth-limited, if a depth is set) value of every legal move for the player to move."""
        depth, sign = self._child_depth(), self._sign(state)
        return {
            move: sign * _one_ply_back(self._search(self.game.apply(state, move), depth, -_INF, _INF))
            for move in self.game.legal_moves(state)
        }

    def value(self, state: Any) -> int:
        """The value of `state` for the player to move (for player 0 once the game is over)."""
        value = self._search(state, self._root_depth(), -_INF, _INF)
        return value if self.game.is_over(state) else self._sign(state) * value

    def _sign(self, state: Any) -> int:
        """+1 where player 0 moves (values are player 0's, so the mover maximises them), else -1."""
        return 1 if self.game.to_move(state) == 0 else -1

    def _final(self, state: Any, winner: int) -> int:
        """Player 0's value of a finished game: from `winner`, or from the game's own `returns` if it has them."""
        if not self._own_returns:
            return 0 if winner == DRAW else WIN if winner == 0 else -WIN
        payoffs = self.game.returns(state)
        if len(payoffs) != 2 or payoffs[0] != -payoffs[1] or not -1 <= payoffs[0] <= 1:
            raise ArenaError(
                f"{self.game.name}: returns() gave {payoffs!r} for a finished game; minimax needs a zero-sum pair "
                "(r, -r) with r in [-1, 1]: positive for the winner, 0 for a draw"
            )
        return proven_value(payoffs[0])

    def _root_depth(self) -> int:
        return _UNLIMITED if self.depth is None else self.depth

    def _child_depth(self) -> int:
        return _UNLIMITED if self.depth is None else self.depth - 1

    def _ordered(self, state: Any, key: Any) -> list[int]:
        moves = list(self.game.ordered_moves(state))
        entry = self._table.get(key)
        if entry is not None and entry[3] in moves:
            moves.remove(entry[3])
            moves.insert(0, entry[3])
        return moves

    def _remember(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if len(table) >= self.max_table_size:
            table.clear()  # a crude bound; search stays correct, only slower until it refills
        table[key] = value

    def _search(self, state: Any, depth: int, alpha: int, beta: int) -> int:
        """Player 0's value of `state`, exact inside (alpha, beta), else a bound on the side it falls."""
        game = self.game
        winner = game.winner(state)
        if winner is not None:
            return self._final(state, winner)
        # The player to move maximises their own value: work in their frame (player 0's values, negated for
        # player 1) and turn back at the end. Table entries are in the frame of the position's player to move.
        sign = 1 if game.to_move(state) == 0 else -1
        if depth <= 0:
            return sign * int(round(game.heuristic(state) * HEURISTIC_SCALE)) if self.heuristic else 0
        low, high = (alpha, beta) if sign > 0 else (-beta, -alpha)
        key = game.key(state)
        entry = self._table.get(key)
        if entry is not None and entry[0] >= depth:
            _, flag, value, _ = entry
            if flag == _EXACT:
                return sign * value
            if flag == _LOWER:
                low = max(low, value)
            else:
                high = min(high, value)
            if low >= high:
                return sign * value
        low0 = low
        # Exact search keeps one depth for every node so entries stay valid from one root move to the next.
        child_depth = depth if depth >= _UNLIMITED else depth - 1
        best_value, best_move = -_INF, -1
        for move in self._ordered(state, key):
            # The child window is widened by one each side to stay sound under `_one_ply_back`'s shift.
            child_low, child_high = (low - 1, high + 1) if sign > 0 else (-high - 1, 1 - low)
            value = sign * _one_ply_back(self._search(game.apply(state, move), child_depth, child_low, child_high))
            if value > best_value:
                best_value, best_move = value, move
                if value > low:
                    low = value
                    if low >= high:
                        break
        flag = _UPPER if best_value <= low0 else _LOWER if best_value >= high else _EXACT
        self._remember(self._table, key, (depth, flag, best_value, best_move))
        return sign * best_value
