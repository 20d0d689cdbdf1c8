"""Tic-tac-toe: its rules (cells 0-8 numbered row by row from the top left) and how its board is written."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

from arena.errors import IllegalMoveError
from arena.text import SYMBOLS, Renderer

from .base import DRAW, Game, GameInfo

EMPTY = -1
LINES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2),
    (3, 4, 5),
    (6, 7, 8),  # rows
    (0, 3, 6),
    (1, 4, 7),
    (2, 5, 8),  # columns
    (0, 4, 8),
    (2, 4, 6),  # diagonals
)
# Cell permutations of the square's 8 symmetries: new_cells[i] = cells[perm[i]].
_ROTATE = (6, 3, 0, 7, 4, 1, 8, 5, 2)
_FLIP = (2, 1, 0, 5, 4, 3, 8, 7, 6)


def _compose(p: Sequence[int], q: Sequence[int]) -> tuple[int, ...]:
    return tuple(p[q[i]] for i in range(9))


def _dihedral() -> tuple[tuple[int, ...], ...]:
    perms = []
    rot = tuple(range(9))
    for _ in range(4):
        perms.append(rot)
        perms.append(_compose(rot, _FLIP))
        rot = _compose(rot, _ROTATE)
    return tuple(perms)


SYMMETRIES = _dihedral()


class TicTacToeState(NamedTuple):
    cells: tuple[int, ...]  # 9 entries: EMPTY, 0 (X, moves first) or 1 (O)
    player: int  # to move
    result: int | None  # None, winner, or DRAW


def _result_after(cells: tuple[int, ...], mover: int, move: int) -> int | None:
    for line in LINES:
        if move in line and all(cells[i] == mover for i in line):
            return mover
    return DRAW if EMPTY not in cells else None


class TicTacToe(Game[TicTacToeState]):
    """Three in a row on a 3x3 board. X (player 0) moves first."""

    info = GameInfo(name="tictactoe", num_players=2, max_game_length=9, num_moves=9)

    def initial_state(self) -> TicTacToeState:
        return TicTacToeState((EMPTY,) * 9, 0, None)

    def to_move(self, state: TicTacToeState) -> int:
        return state.player

    def legal_moves(self, state: TicTacToeState) -> tuple[int, ...]:
        if state.result is not None:
            return ()
        return tuple(i for i, c in enumerate(state.cells) if c == EMPTY)

    def apply(self, state: TicTacToeState, move: int) -> TicTacToeState:
        if state.result is not None:
            raise IllegalMoveError(f"illegal move {move!r}: the game is already over")
        if not isinstance(move, int) or not 0 <= move < 9:
            raise IllegalMoveError(f"illegal move {move!r}: cells are numbered 0-8")
        if state.cells[move] != EMPTY:
            raise IllegalMoveError(f"illegal move {move!r}: cell {move} is already taken")
        cells = state.cells[:move] + (state.player,) + state.cells[move + 1 :]
        return TicTacToeState(cells, 1 - state.player, _result_after(cells, state.player, move))

    def winner(self, state: TicTacToeState) -> int | None:
        return state.result

    def key(self, state: TicTacToeState) -> Hashable:
        return state.cells  # the player to move follows from the cell counts

    def board(self, state: TicTacToeState) -> tuple[tuple[int, ...], ...]:
        c = state.cells
        return (c[0:3], c[3:6], c[6:9])

    def heuristic(self, state: TicTacToeState) -> float:
        """Open lines for the player to move minus open lines for the opponent, scaled to [-1, 1]."""
        me, them = state.player, 1 - state.player
        score = 0
        for line in LINES:
            owners = {state.cells[i] for i in line} - {EMPTY}
            if owners == {me}:
                score += 1
            elif owners == {them}:
                score -= 1
        return score / 8

    def symmetries(self, state: TicTacToeState) -> list[tuple[TicTacToeState, tuple[int, ...]]]:
        out = []
        for perm in SYMMETRIES:
            cells = tuple(state.cells[perm[i]] for i in range(9))
            # A move on cell m of the original lands on cell perm.index(m) of the transformed board.
            move_map = tuple(perm.index(m) for m in range(9))
            out.append((TicTacToeState(cells, state.player, state.result), move_map))
        return out


class TicTacToeRenderer(Renderer):
    """Empty cells show their own number, so the board doubles as the move key."""

    title = "tic-tac-toe"
    move_noun = "cell"
    board_shows_legal_moves = True

    def rules(self) -> str:
        return (
            "Tic-tac-toe on a 3x3 board. X moves first, then O; players alternate placing their symbol in an "
            "empty cell. Three in a row, column or diagonal wins; a full board with no line is a draw. "
            "Cells are numbered 0-8 row by row from the top left, and an empty cell shows its number."
        )

    def render(self, state: Any) -> str:
        cells = state.cells
        shown = [str(i) if c < 0 else SYMBOLS[c] for i, c in enumerate(cells)]
        return "\n".join(" ".join(shown[r * 3 : r * 3 + 3]) for r in range(3))
