"""Rules of the built-in games: scripted games, every win direction, draws, bad moves, symmetries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from arena.errors import IllegalMoveError
from arena.games import DRAW, ConnectFour, TicTacToe


def play(game, moves):
    return game.play(moves)


@pytest.mark.parametrize(
    ("moves", "winner"),
    [
        ([0, 3, 1, 4, 2], 0),  # top row
        ([3, 0, 4, 1, 5], 0),  # middle row
        ([6, 0, 7, 1, 8], 0),  # bottom row
        ([0, 1, 3, 2, 6], 0),  # left column
        ([1, 0, 4, 2, 7], 0),  # middle column
        ([2, 0, 5, 1, 8], 0),  # right column
        ([0, 1, 4, 2, 8], 0),  # main diagonal
        ([2, 0, 4, 1, 6], 0),  # anti diagonal
        ([0, 2, 1, 4, 3, 6], 1),  # O wins on the anti diagonal
    ],
)
def test_tictactoe_wins_in_every_direction(moves, winner):
    game = TicTacToe()
    state = play(game, moves)
    assert game.winner(state) == winner
    assert game.legal_moves(state) == ()
    assert game.returns(state) == ((1.0, -1.0) if winner == 0 else (-1.0, 1.0))


def test_tictactoe_draw_and_turns():
    game = TicTacToe()
    state = game.initial_state()
    assert game.to_move(state) == 0 and game.legal_moves(state) == tuple(range(9))
    moves = [0, 1, 2, 4, 3, 5, 7, 6, 8]  # X O X / X O O / O X X
    for i, move in enumerate(moves):
        assert game.winner(state) is None
        assert game.to_move(state) == i % 2
        state = game.apply(state, move)
    assert game.winner(state) == DRAW
    assert game.board(state) == ((0, 1, 0), (0, 1, 1), (1, 0, 0))


@pytest.mark.parametrize(
    ("moves", "bad", "match"),
    [([4], 4, "already taken"), ([], 9, "numbered 0-8"), ([], -1, "numbered 0-8"), ([0, 3, 1, 4, 2], 5, "over")],
)
def test_tictactoe_illegal_moves(moves, bad, match):
    game = TicTacToe()
    with pytest.raises(IllegalMoveError, match=match):
        game.apply(play(game, moves), bad)


def test_states_are_immutable_values():
    game = TicTacToe()
    s0 = game.initial_state()
    s1 = game.apply(s0, 4)
    assert s0 == game.initial_state() and s1 != s0
    assert game.key(game.play([0, 4])) == game.key(game.play([0, 4]))
    with pytest.raises(AttributeError):
        s1.player = 0  # type: ignore[misc]


def test_tictactoe_symmetries_map_moves():
    game = TicTacToe()
    state = game.play([0, 4, 5])
    syms = game.symmetries(state)
    assert len(syms) == 8 and len({s.cells for s, _ in syms}) == 8
    for sym_state, move_map in syms:
        for move in game.legal_moves(state):
            # Playing a move then transforming equals transforming then playing the mapped move.
            after = game.apply(state, move)
            expected = next(s for s, m in game.symmetries(after) if m == move_map)
            assert game.apply(sym_state, move_map[move]).cells == expected.cells


# -- connect four -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moves", "winner"),
    [
        ([0, 0, 1, 1, 2, 2, 3], 0),  # horizontal, bottom row
        ([3, 4, 3, 4, 3, 4, 3], 0),  # vertical
        ([0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], 0),  # diagonal up-right
        ([6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3], 0),  # diagonal up-left
        ([0, 1, 0, 1, 0, 1, 6, 1], 1),  # O vertical
        ([0, 0, 1, 1, 3, 3, 2], 0),  # horizontal completed in the middle of the line
    ],
)
def test_connect_four_wins(moves, winner):
    game = ConnectFour()
    assert game.winner(game.play(moves[:-1])) is None
    state = game.play(moves)
    assert game.winner(state) == winner
    assert game.legal_moves(state) == ()


def test_connect_four_no_wrap_between_columns():
    # Vertical stones at the top of column 0 and the bottom of column 1 are adjacent bits only if
    # the sentinel row is missing; they must not count as a line.
    game = ConnectFour()
    state = game.play([0, 1, 0, 1, 0, 2, 1, 0, 1, 0, 1, 0])
    assert game.winner(state) is None


def test_connect_four_full_column_and_range():
    game = ConnectFour()
    state = game.play([3] * 6)
    assert 3 not in game.legal_moves(state)
    with pytest.raises(IllegalMoveError, match="column 3 is full"):
        game.apply(state, 3)
    with pytest.raises(IllegalMoveError, match="numbered 0-6"):
        game.apply(state, 7)


def test_connect_four_draw_on_full_board():
    game = ConnectFour(rows=1, columns=4, connect=3)
    state = game.play([0, 1, 3, 2])
    assert game.winner(state) == DRAW


def test_connect_four_configurable_and_validated():
    game = ConnectFour(rows=4, columns=5, connect=3)
    assert game.info.num_moves == 5 and game.info.max_game_length == 20
    assert game.winner(game.play([0, 0, 1, 1, 2])) == 0
    with pytest.raises(ValueError, match="cannot fit"):
        ConnectFour(rows=3, columns=3, connect=4)


def test_connect_four_board_rows_top_first():
    game = ConnectFour()
    board = game.board(game.play([3, 3, 0]))
    assert board[-1] == (0, -1, -1, 0, -1, -1, -1)
    assert board[-2] == (-1, -1, -1, 1, -1, -1, -1)


def _naive_winner(board, connect):
    rows, cols = len(board), len(board[0])
    for r, c in itertools.product(range(rows), range(cols)):
        p = board[r][c]
        if p < 0:
            continue
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            cells = [(r + dr * i, c + dc * i) for i in range(connect)]
            if all(0 <= rr < rows and 0 <= cc < cols and board[rr][cc] == p for rr, cc in cells):
                return p
    return None


@pytest.mark.parametrize(("rows", "cols", "connect"), [(6, 7, 4), (5, 6, 4), (4, 5, 3), (7, 8, 5)])
def test_connect_four_bitboard_agrees_with_naive_check(rows, cols, connect):
    game = ConnectFour(rows, cols, connect)
    rng = np.random.default_rng(0)
    for _ in range(300):
        state = game.initial_state()
        while not game.is_over(state):
            state = game.apply(state, int(rng.choice(game.legal_moves(state))))
            naive = _naive_winner(game.board(state), connect)
            if game.winner(state) in (0, 1):
                assert naive == game.winner(state)
            else:
                assert naive is None


def test_connect_four_mirror_symmetry():
    game = ConnectFour()
    state = game.play([0, 1, 1, 6])
    (_, ident), (mirrored, move_map) = game.symmetries(state)
    assert ident == tuple(range(7))
    assert game.board(mirrored) == tuple(row[::-1] for row in game.board(state))
    assert game.board(game.apply(mirrored, move_map[2])) == tuple(row[::-1] for row in game.board(game.apply(state, 2)))


def test_heuristics_are_bounded_and_signed():
    game = ConnectFour()
    state = game.play([3, 0, 3, 0, 2])  # X has more central material; O to move
    value = game.heuristic(state)
    assert -1.0 < value < 0.0
    assert -1.0 <= TicTacToe().heuristic(TicTacToe().play([4])) <= 1.0


def test_play_random_draws_legal_moves_and_stops_where_the_game_ends():
    import numpy as np

    from arena.games import make_game

    game = make_game("tictactoe")
    state, moves = game.play_random(4, np.random.default_rng(0))
    assert len(moves) == 4 and state == game.play(moves)
    rng, expected, s = np.random.default_rng(0), [], game.initial_state()
    for _ in range(4):  # one draw a move, uniform over the legal moves: the same line by hand
        legal = game.legal_moves(s)
        expected.append(int(legal[int(rng.integers(len(legal)))]))
        s = game.apply(s, expected[-1])
    assert moves == expected
    end, line = game.play_random(50, np.random.default_rng(1))
    assert game.is_over(end) and 5 <= len(line) <= 9  # stopped at the game's end
    start = game.play([4])
    _, chosen = game.play_random(3, np.random.default_rng(2), start, choose=lambda st, rng: game.legal_moves(st)[0])
    assert chosen == [0, 1, 2]
