"""Small games that are not tic-tac-toe-shaped, and a brute-force solver that shares no code with arena's search.

- `ClaimBlocks`: extra turns. Cells in a row, paired into blocks; the player who fills a block's last cell
  scores it and moves again (dots and boxes in one dimension). More blocks wins.
- `MisereTicTacToe`: the player who completes a line loses, so the last mover loses.
- `SmallOthello`: Othello on a small board. A disc must flank opponent discs, which flip; a player with no
  such move passes (an implicit pass: `to_move` names the same player twice); more discs wins, so the last
  mover can lose. With `margin=True`, `returns` pays the disc margin instead of +-1.

`register_small_games()` registers all three under `test_*` names.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

from arena.errors import IllegalMoveError
from arena.games import DRAW, Game, GameInfo, GameSpec, TicTacToe, TicTacToeRenderer, register_game
from arena.games.tictactoe import LINES, TicTacToeState
from arena.text import GridRenderer

EMPTY = -1


class RowState(NamedTuple):
    cells: tuple[int, ...]
    player: int
    result: int | None


def _check(game: Game[Any], state: RowState, move: int) -> None:
    if state.result is not None:
        raise IllegalMoveError(f"illegal move {move!r}: the game is already over")
    if move not in game.legal_moves(state):
        raise IllegalMoveError(f"illegal move {move!r} in {state.cells}")


def _count_winner(counts: tuple[int, int]) -> int:
    return DRAW if counts[0] == counts[1] else int(counts[1] > counts[0])


class ClaimBlocks(Game[RowState]):
    """`blocks` blocks of `size` cells in a row; filling a block's last cell scores it and earns another turn."""

    def __init__(self, blocks: int = 4, size: int = 2) -> None:
        self.blocks, self.size = blocks, size
        n = blocks * size
        self.info = GameInfo(name="test_claim_blocks", num_players=2, max_game_length=n, num_moves=n)

    def _init_args(self) -> tuple[Any, ...]:
        return (self.blocks, self.size)

    def initial_state(self) -> RowState:
        return RowState((EMPTY,) * self.info.num_moves, 0, None)

    def to_move(self, state: RowState) -> int:
        return state.player

    def legal_moves(self, state: RowState) -> tuple[int, ...]:
        return () if state.result is not None else tuple(i for i, c in enumerate(state.cells) if c == EMPTY)

    def apply(self, state: RowState, move: int) -> RowState:
        _check(self, state, move)
        cells = list(state.cells)
        cells[move] = state.player  # a claimed cell is marked by its claimer; blocks go to who fills them
        block = move // self.size
        part = range(block * self.size, (block + 1) * self.size)
        scored = all(cells[i] != EMPTY for i in part)
        if scored:
            for i in part:
                cells[i] = state.player
        if all(c != EMPTY for c in cells):
            owners = [cells[b * self.size] for b in range(self.blocks)]
            result = _count_winner((owners.count(0), owners.count(1)))
        else:
            result = None
        return RowState(tuple(cells), state.player if scored else 1 - state.player, result)

    def winner(self, state: RowState) -> int | None:
        return state.result

    def key(self, state: RowState) -> Hashable:
        return (state.cells, state.player)

    def board(self, state: RowState) -> tuple[tuple[int, ...], ...]:
        return (state.cells,)


def _misere_result(cells: tuple[int, ...], mover: int) -> int | None:
    if any(all(cells[i] == mover for i in line) for line in LINES):
        return 1 - mover
    return DRAW if EMPTY not in cells else None


class MisereTicTacToe(TicTacToe):
    """Tic-tac-toe where three in a row loses."""

    info = GameInfo(name="test_misere_tictactoe", num_players=2, max_game_length=9, num_moves=9)

    def apply(self, state: TicTacToeState, move: int) -> TicTacToeState:
        after = super().apply(state, move)
        return after._replace(result=_misere_result(after.cells, state.player))

    def heuristic(self, state: TicTacToeState) -> float:
        return 0.0


class SmallOthello(Game[RowState]):
    """Othello on a `rows` x `columns` board (four discs in the middle to start); passes are implicit."""

    def __init__(self, rows: int = 3, columns: int = 4, margin: bool = False) -> None:
        self.rows, self.columns, self.margin = rows, columns, margin
        n = rows * columns
        # Every move fills a cell, so the empty cells bound the game's moves; passes are not moves.
        self.info = GameInfo(name="test_small_othello", num_players=2, max_game_length=n - 4, num_moves=n)
        self._lines = [self._rays(cell) for cell in range(n)]

    def _init_args(self) -> tuple[Any, ...]:
        return (self.rows, self.columns, self.margin)

    def _rays(self, cell: int) -> list[list[int]]:
        r0, c0 = divmod(cell, self.columns)
        rays = []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                ray, r, c = [], r0 + dr, c0 + dc
                while (dr, dc) != (0, 0) and 0 <= r < self.rows and 0 <= c < self.columns:
                    ray.append(r * self.columns + c)
                    r, c = r + dr, c + dc
                if len(ray) >= 2:
                    rays.append(ray)
        return rays

    def initial_state(self) -> RowState:
        cells = [EMPTY] * (self.rows * self.columns)
        r, c = max(0, self.rows // 2 - 1), self.columns // 2 - 1
        top, bottom = r * self.columns + c, (r + 1) * self.columns + c
        cells[top], cells[top + 1], cells[bottom], cells[bottom + 1] = 1, 0, 0, 1
        return RowState(tuple(cells), 0, None)

    def _flips(self, cells: tuple[int, ...], player: int, move: int) -> list[int]:
        if cells[move] != EMPTY:
            return []
        flips: list[int] = []
        for ray in self._lines[move]:
            run = []
            for i in ray:
                if cells[i] != 1 - player:
                    if cells[i] == player and run:
                        flips += run
                    break
                run.append(i)
        return flips

    def _moves(self, cells: tuple[int, ...], player: int) -> tuple[int, ...]:
        return tuple(m for m in range(len(cells)) if self._flips(cells, player, m))

    def to_move(self, state: RowState) -> int:
        return state.player

    def legal_moves(self, state: RowState) -> tuple[int, ...]:
        return () if state.result is not None else self._moves(state.cells, state.player)

    def apply(self, state: RowState, move: int) -> RowState:
        _check(self, state, move)
        cells = list(state.cells)
        for i in [move, *self._flips(state.cells, state.player, move)]:
            cells[i] = state.player
        after = tuple(cells)
        other = 1 - state.player
        if self._moves(after, other):
            return RowState(after, other, None)
        if self._moves(after, state.player):
            return RowState(after, state.player, None)  # the other player has no move and passes
        return RowState(after, other, _count_winner((after.count(0), after.count(1))))

    def winner(self, state: RowState) -> int | None:
        return state.result

    def returns(self, state: RowState) -> tuple[float, float]:
        if not self.margin or state.result is None:
            return super().returns(state)
        lead = (state.cells.count(0) - state.cells.count(1)) / len(state.cells)
        return (lead, -lead)

    def key(self, state: RowState) -> Hashable:
        return (state.cells, state.player)

    def board(self, state: RowState) -> tuple[tuple[int, ...], ...]:
        c, n = state.cells, self.columns
        return tuple(c[r * n : (r + 1) * n] for r in range(self.rows))


class DiscRenderer(GridRenderer):
    """Othello's colours: B moves first, W second."""

    title = "line othello"

    def symbol(self, player: int) -> str:
        return "BW"[player]

    def render(self, state: Any) -> str:
        return "\n".join(" ".join("." if c < 0 else "BW"[c] for c in row) for row in self.game.board(state))


SMALL_GAMES = {
    "test_claim_blocks": (ClaimBlocks, GridRenderer, "arena-test/ClaimBlocks-v0"),
    "test_misere_tictactoe": (MisereTicTacToe, TicTacToeRenderer, "arena-test/MisereTicTacToe-v0"),
    "test_small_othello": (SmallOthello, DiscRenderer, "arena-test/SmallOthello-v0"),
}


def register_small_games() -> list[str]:
    """Register the three games (idempotent); returns their names."""
    for name, (make, renderer, env_id) in SMALL_GAMES.items():
        register_game(GameSpec(name=name, make_game=make, make_renderer=renderer, env_id=env_id))
    return list(SMALL_GAMES)


# -- an independent solver ---------------------------------------------------------------------------------------


def solve(game: Game[Any], state: Any, memo: dict[Hashable, tuple[float, int]]) -> tuple[float, int]:
    """(player 0's return, plies to the end) under optimal play, by exhaustive search with no pruning.

    Each player maximises their own return (player 1's is minus player 0's); among equal returns a winner
    prefers the fastest end, a loser the slowest, and a draw's length does not matter.
    """
    key = game.key(state)
    if key in memo:
        return memo[key]
    if game.winner(state) is not None:
        result: tuple[float, int] = (game.returns(state)[0], 0)
    else:
        mover = game.to_move(state)
        options = []
        for move in game.legal_moves(state):
            value, plies = solve(game, game.apply(state, move), memo)
            options.append((value, plies + 1))
        result = max(options, key=lambda option: rank(option, mover))
        if result[0] == 0:
            result = (0.0, 0)
    memo[key] = result
    return result


def rank(option: tuple[float, int], player: int) -> tuple[float, int]:
    """How much `player` likes an outcome (player 0's return, plies to the end)."""
    value, plies = option
    mine = value if player == 0 else -value
    return (mine, -plies if mine > 0 else plies if mine < 0 else 0)


def optimal_moves(game: Game[Any], state: Any, memo: dict[Hashable, tuple[float, int]]) -> tuple[int, ...]:
    """Every move of the player to move that reaches the best outcome, ascending."""
    mover = game.to_move(state)
    ranks = {}
    for move in game.legal_moves(state):
        value, plies = solve(game, game.apply(state, move), memo)
        ranks[move] = rank((value, plies + 1) if value != 0 else (0.0, 0), mover)
    best = max(ranks.values())
    return tuple(m for m in sorted(ranks) if ranks[m] == best)


def reachable(game: Game[Any]) -> list[Any]:
    """Every position reachable from the start, finished ones included."""
    seen, stack, out = set(), [game.initial_state()], []
    while stack:
        state = stack.pop()
        if game.key(state) in seen:
            continue
        seen.add(game.key(state))
        out.append(state)
        stack.extend(game.apply(state, m) for m in game.legal_moves(state))
    return out
