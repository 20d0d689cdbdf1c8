"""Connect four: its rules on bitboards (a move is a column, 0 (left) to columns - 1 (right)) and how its board is
written.

Each player's stones are one Python int. Bit `col * (rows + 1) + row` is the cell in column `col`, row `row`
counted from the bottom; the extra (always empty) row on top of each column stops lines from wrapping
between columns, so a line test is a handful of shifts and ands.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property
from typing import Any, NamedTuple

from arena.errors import GameConfigError, IllegalMoveError
from arena.text import EMPTY_SYMBOL, SYMBOLS, Renderer

from .base import DRAW, Game, GameInfo


class ConnectFourState(NamedTuple):
    stones: tuple[int, int]  # bitboard of each player
    heights: tuple[int, ...]  # stones in each column
    player: int  # to move
    result: int | None  # None, winner, or DRAW


class ConnectFour(Game[ConnectFourState]):
    """Drop stones into columns; the first to line up `connect` in a row, column or diagonal wins."""

    def __init__(self, rows: int = 6, columns: int = 7, connect: int = 4) -> None:
        if rows < 1 or columns < 1:
            raise GameConfigError(f"connect four needs at least one row and one column, got {rows}x{columns}")
        if not 2 <= connect <= max(rows, columns):
            raise GameConfigError(
                f"connect length {connect} cannot fit on a {rows}x{columns} board: "
                f"use 2 <= connect <= {max(rows, columns)}"
            )
        self.rows, self.columns, self.connect = rows, columns, connect
        self._height = rows + 1
        name = "connect_four" if (rows, columns, connect) == (6, 7, 4) else f"connect_four_{rows}x{columns}_{connect}"
        self.info = GameInfo(name=name, num_players=2, max_game_length=rows * columns, num_moves=columns)
        h = self._height
        self._shifts = (1, h, h - 1, h + 1)  # vertical, horizontal, two diagonals

    def _init_args(self) -> tuple[int, int, int]:
        return (self.rows, self.columns, self.connect)

    def bit(self, column: int, row: int) -> int:
        return 1 << (column * self._height + row)

    def initial_state(self) -> ConnectFourState:
        return ConnectFourState((0, 0), (0,) * self.columns, 0, None)

    def to_move(self, state: ConnectFourState) -> int:
        return state.player

    def legal_moves(self, state: ConnectFourState) -> tuple[int, ...]:
        if state.result is not None:
            return ()
        rows = self.rows
        return tuple(c for c, height in enumerate(state.heights) if height < rows)

    @cached_property
    def _centre_first(self) -> tuple[int, ...]:
        centre = (self.columns - 1) / 2
        return tuple(sorted(range(self.columns), key=lambda c: (abs(c - centre), c)))

    def ordered_moves(self, state: ConnectFourState) -> tuple[int, ...]:
        """Centre columns first: they take part in the most lines, so alpha-beta cuts off sooner."""
        if state.result is not None:
            return ()
        rows, heights = self.rows, state.heights
        return tuple(c for c in self._centre_first if heights[c] < rows)

    def apply(self, state: ConnectFourState, move: int) -> ConnectFourState:
        if state.result is not None:
            raise IllegalMoveError(f"illegal move {move!r}: the game is already over")
        if not isinstance(move, int) or not 0 <= move < self.columns:
            raise IllegalMoveError(f"illegal move {move!r}: columns are numbered 0-{self.columns - 1}")
        height = state.heights[move]
        if height >= self.rows:
            raise IllegalMoveError(f"illegal move {move!r}: column {move} is full")
        player = state.player
        mine = state.stones[player] | (1 << (move * self._height + height))
        stones = (mine, state.stones[1]) if player == 0 else (state.stones[0], mine)
        heights = state.heights[:move] + (height + 1,) + state.heights[move + 1 :]
        if self._has_line(mine):
            result: int | None = player
        elif sum(heights) == self.rows * self.columns:
            result = DRAW
        else:
            result = None
        return ConnectFourState(stones, heights, 1 - player, result)

    def _has_line(self, bits: int) -> bool:
        k = self.connect
        for s in self._shifts:
            if k == 4:  # the common case in two steps instead of three
                m = bits & (bits >> s)
                if m & (m >> (2 * s)):
                    return True
                continue
            m = bits
            for i in range(1, k):
                m &= bits >> (i * s)
                if not m:
                    break
            if m:
                return True
        return False

    def winner(self, state: ConnectFourState) -> int | None:
        return state.result

    def key(self, state: ConnectFourState) -> Hashable:
        return (state.stones[0] << (self._height * self.columns)) | state.stones[1]

    @cached_property
    def _cell_bits(self) -> tuple[tuple[int, ...], ...]:
        """The bit of every cell, rows top first, so `board()` is a table lookup per cell."""
        return tuple(tuple(self.bit(col, row) for col in range(self.columns)) for row in range(self.rows - 1, -1, -1))

    def board(self, state: ConnectFourState) -> tuple[tuple[int, ...], ...]:
        b0, b1 = state.stones
        return tuple(tuple(0 if b0 & bit else 1 if b1 & bit else -1 for bit in row) for row in self._cell_bits)

    @cached_property
    def _windows(self) -> tuple[int, ...]:
        """Every run of `connect` cells on the board, as bitmasks."""
        out = []
        k = self.connect
        for col in range(self.columns):
            for row in range(self.rows):
                for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
                    end_c, end_r = col + dc * (k - 1), row + dr * (k - 1)
                    if 0 <= end_c < self.columns and 0 <= end_r < self.rows:
                        mask = 0
                        for i in range(k):
                            mask |= self.bit(col + dc * i, row + dr * i)
                        out.append(mask)
        return tuple(out)

    def heuristic(self, state: ConnectFourState) -> float:
        """Open windows weighted by how full they are (4^(n-1) for n own stones), mine minus theirs.

        Squashed into (-1, 1) so any proven win or loss outranks it in search.
        """
        me, them = state.stones[state.player], state.stones[1 - state.player]
        score = 0
        for w in self._windows:
            mine, theirs = w & me, w & them
            if mine and not theirs:
                score += 4 ** (mine.bit_count() - 1)
            elif theirs and not mine:
                score -= 4 ** (theirs.bit_count() - 1)
        return score / (abs(score) + 64)

    def symmetries(self, state: ConnectFourState) -> list[tuple[ConnectFourState, tuple[int, ...]]]:
        n, h = self.columns, self._height
        col_mask = (1 << h) - 1

        def mirror(bits: int) -> int:
            out = 0
            for c in range(n):
                out |= ((bits >> (c * h)) & col_mask) << ((n - 1 - c) * h)
            return out

        mirrored = ConnectFourState(
            (mirror(state.stones[0]), mirror(state.stones[1])), state.heights[::-1], state.player, state.result
        )
        return [(state, tuple(range(n))), (mirrored, tuple(n - 1 - c for c in range(n)))]


class ConnectFourRenderer(Renderer):
    """'.' for an empty cell. Layout "rows": column numbers on top, then the top row first. Layout "columns": a line
    a column, its number and then its cells from the bottom up, so a stone lands on a line's first '.', a column is
    full when its line has no '.', and a vertical four is four symbols in a row on one line."""

    title = "connect four"
    move_noun = "column"
    board_shows_legal_moves = True  # a column is full when its top cell holds a stone
    layouts = ("rows", "columns")

    def rules(self) -> str:
        g = self.game
        columns = " The board is written a line a column: its number, then its cells from the bottom up."
        return (
            f"Connect four on a board of {g.rows} rows and {g.columns} columns. X moves first, then O; a move "
            f"drops your stone into a column, where it falls to the lowest empty cell. {g.connect} in a row, "
            f"column or diagonal wins; a full board with no line is a draw. Columns are numbered "
            f"0-{g.columns - 1} from left to right.{columns if self.layout == 'columns' else ''}"
        )

    def render(self, state: Any) -> str:
        rows = [[EMPTY_SYMBOL if c < 0 else SYMBOLS[c] for c in row] for row in self.game.board(state)]
        if self.layout == "columns":
            bottom_up = rows[::-1]
            return "\n".join(f"{c} " + " ".join(row[c] for row in bottom_up) for c in range(self.game.columns))
        header = " ".join(str(c) for c in range(self.game.columns))
        return "\n".join([header, *(" ".join(row) for row in rows)])
