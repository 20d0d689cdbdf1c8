"""Negamax with alpha-beta and a transposition table, for any game, with randomized tie-breaking.

Values are integers from the point of view of the player to move: a win is `WIN` minus the plies it takes,
so faster wins and slower losses are preferred; depth-limited leaves use the game's heuristic scaled to
+-`HEURISTIC_SCALE`, well inside the win range. Ties among the best root moves are broken uniformly at random
(a model trained against a first-best tie-break memorises its lines), or by the lowest move with
`tie_break="first"`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from arena.games.base import DRAW, Game

from .base import Opponent

WIN = 1_000_000
HEURISTIC_SCALE = 10_000
_WON = WIN // 2  # any |value| above this is a proven result
_INF = 10 * WIN
_EXACT, _LOWER, _UPPER = 0, 1, 2
_UNLIMITED = 1 << 20


def _back_up(child_value: int) -> int:
    """The parent's value of a child value: negate, and move proven results one ply further away."""
    v = -child_value
    if v > _WON:
        return v - 1
    if v < -_WON:
        return v + 1
    return v


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
    ) -> None:
        super().__init__(game)
        if depth is not None and depth < 1:
            raise ValueError(f"search depth must be at least 1 (or None for exact play), got {depth}")
        if tie_break not in ("random", "first"):
            raise ValueError(f"tie_break must be 'random' or 'first', got {tie_break!r}")
        self.depth, self.tie_break, self.max_table_size = depth, tie_break, max_table_size
        self.name = ("perfect" if depth is None else f"depth-{depth}") + ("-first" if tie_break == "first" else "")
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
        """Every legal move whose value equals the best value, ascending. Cached per position."""
        key = self.game.key(state)
        cached = self._best_moves.get(key)
        if cached is not None:
            return cached
        if not self.game.legal_moves(state):
            raise ValueError(f"no legal move: the game is over in {state}")
        best_value, best = -_INF, []
        depth = self._child_depth()
        for move in self._ordered(state, key):
            # Window (best - 1, inf) for the parent, widened by one for `_back_up`: a move that can tie gets
            # its exact value, a worse one only an upper bound, which is all we need to discard it.
            child = self._search(self.game.apply(state, move), depth, -_INF, -best_value + 2)
            value = _back_up(child)
            if value > best_value:
                best_value, best = value, [move]
            elif value == best_value:
                best.append(move)
        result = tuple(sorted(best))
        self._remember(self._best_moves, key, result)
        return result

    def move_values(self, state: Any) -> dict[int, int]:
        """The exact (depth-limited, if a depth is set) value of every legal move, for analysis and tests."""
        depth = self._child_depth()
        return {
            move: _back_up(self._search(self.game.apply(state, move), depth, -_INF, _INF))
            for move in self.game.legal_moves(state)
        }

    def value(self, state: Any) -> int:
        """The value of `state` for the player to move."""
        return self._search(state, self._root_depth(), -_INF, _INF)

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
        game = self.game
        winner = game.winner(state)
        if winner is not None:
            # The player who just moved can only have won (or drawn); the player to move has lost.
            return 0 if winner == DRAW else -WIN
        if depth <= 0:
            return int(round(game.heuristic(state) * HEURISTIC_SCALE))
        key = game.key(state)
        entry = self._table.get(key)
        if entry is not None and entry[0] >= depth:
            _, flag, value, _ = entry
            if flag == _EXACT:
                return value
            if flag == _LOWER:
                alpha = max(alpha, value)
            else:
                beta = min(beta, value)
            if alpha >= beta:
                return value
        alpha0 = alpha
        # Exact search keeps one depth for every node so entries stay valid from one root move to the next.
        child_depth = depth if depth >= _UNLIMITED else depth - 1
        best_value, best_move = -_INF, -1
        for move in self._ordered(state, key):
            # The child window is widened by one each side to stay sound under `_back_up`'s +-1 shift.
            value = _back_up(self._search(game.apply(state, move), child_depth, -beta - 1, -alpha + 1))
            if value > best_value:
                best_value, best_move = value, move
                if value > alpha:
                    alpha = value
                    if alpha >= beta:
                        break
        flag = _UPPER if best_value <= alpha0 else _LOWER if best_value >= beta else _EXACT
        self._remember(self._table, key, (depth, flag, best_value, best_move))
        return best_value
