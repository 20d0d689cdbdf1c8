"""Start positions: openings k plies deep, and win-in-1 / must-block puzzles found by depth-2 search."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from arena.env import TextGameEnv
from arena.errors import ArenaError
from arena.games.registry import make_game
from curricula import OpeningStart, PuzzleStart, StartSampler, classify, find_puzzle, make_curriculum
from opponents import Minimax, make_opponent
from opponents.minimax import is_loss

GAMES = ["tictactoe", "connect_four"]


def test_classify_hand_made_tictactoe_positions() -> None:
    game = make_game("tictactoe")
    search = Minimax(game, depth=2)
    # X: 0 1, O: 3 4 -> X to move wins at 2 (and must also stop 5, but winning comes first).
    assert classify(search, game.play([0, 3, 1, 4])) == ("win-in-1", (2,))
    # X: 0 8, O: 4 -> O to move, no threat of its own, X threatens nothing in one: neither.
    assert classify(search, game.play([0, 4, 8])) is None
    # X: 0 1, O: 4 -> O to move must block at 2.
    assert classify(search, game.play([0, 4, 1])) == ("must-block", (2,))
    # X: 0 2 4 threatens 1, 6 and 8; O (5 7) has no win and cannot block them all: no lesson, no puzzle.
    assert classify(search, game.play([0, 7, 2, 5, 4])) is None
    # One legal move left: forced, not a puzzle.
    assert classify(search, game.play([0, 1, 2, 4, 3, 5, 7, 6])) is None


@pytest.mark.parametrize("name", GAMES)
@pytest.mark.parametrize("kind", ["win-in-1", "must-block"])
def test_found_puzzles_are_what_they_claim(name: str, kind: str) -> None:
    game = make_game(name)
    rng = np.random.default_rng(3)
    exact = Minimax(game, depth=2)
    for _ in range(10):
        puzzle = find_puzzle(game, kind, rng)  # type: ignore[arg-type]
        state = game.play(puzzle.moves)
        mover = game.to_move(state)
        assert not game.is_over(state) and len(game.legal_moves(state)) >= 2
        if kind == "win-in-1":
            assert all(game.winner(game.apply(state, m)) == mover for m in puzzle.answers)
        else:
            assert len(puzzle.answers) == 1
            values = exact.move_values(state)
            assert not is_loss(values[puzzle.answers[0]])
            assert all(is_loss(v) for m, v in values.items() if m != puzzle.answers[0])


def test_same_seed_same_puzzle() -> None:
    game = make_game("connect_four")
    a = find_puzzle(game, "must-block", np.random.default_rng(11))
    b = find_puzzle(game, "must-block", np.random.default_rng(11))
    assert a == b


def test_impossible_puzzle_search_gives_up_with_advice() -> None:
    game = make_game("tictactoe")
    perfect = make_opponent("perfect-first", game)  # perfect self-play never leaves a win-in-1 ... nor a block
    with pytest.raises(ArenaError, match="raise max_tries"):
        find_puzzle(game, "win-in-1", np.random.default_rng(0), perfect, max_tries=3)
    with pytest.raises(ArenaError, match="depth >= 2"):
        find_puzzle(game, "win-in-1", np.random.default_rng(0), search=Minimax(game, depth=1))


@pytest.mark.parametrize("name", GAMES)
def test_puzzle_starts_put_the_agent_on_move_and_the_env_accepts_them(name: str) -> None:
    game = make_game(name)
    sampler = StartSampler(game, [PuzzleStart(puzzle="win-in-1"), PuzzleStart(puzzle="must-block")])
    env = TextGameEnv(name)
    rng = np.random.default_rng(4)
    for _ in range(10):
        moves, seat = sampler.sample(rng, "first")
        state = game.play(moves)
        assert ("first", "second")[game.to_move(state)] == seat
        _, info = env.reset(seed=0, options={"opponent": "random", "agent_seat": seat, "start": list(moves)})
        assert info["moves"] == list(moves)  # the agent moves first from the puzzle


@pytest.mark.parametrize("name", GAMES)
def test_openings_have_their_depth_and_are_playable_from_either_seat(name: str) -> None:
    game = make_game(name)
    start = OpeningStart(plies=2, max_plies=5, played_by="depth-1")
    sampler = StartSampler(game, [start])
    env = TextGameEnv(name)
    rng = np.random.default_rng(5)
    depths = set()
    for i in range(30):
        seat = ("first", "second")[i % 2]
        moves, kept = sampler.sample(rng, seat)  # type: ignore[arg-type]
        assert kept == seat and 2 <= len(moves) <= 5
        depths.add(len(moves))
        env.reset(seed=i, options={"opponent": "random", "agent_seat": seat, "start": list(moves)})
    assert depths == {2, 3, 4, 5}


def test_deep_openings_skip_positions_the_env_would_refuse() -> None:
    # 7 plies of tic-tac-toe often end the game or leave the opponent a winning reply: those are redrawn.
    game = make_game("tictactoe")
    sampler = StartSampler(game, [OpeningStart(plies=7)])
    rng = np.random.default_rng(6)
    env = TextGameEnv("tictactoe")
    for _ in range(30):
        moves, seat = sampler.sample(rng, "first")  # O moves next: the opponent plays before the agent
        env.reset(seed=0, options={"opponent": "random", "agent_seat": seat, "start": list(moves)})


def test_too_deep_openings_are_refused() -> None:
    with pytest.raises(ArenaError, match="use plies <= 8"):
        make_curriculum(
            {"kind": "fixed", "opponents": "random", "starts": [{"kind": "opening", "plies": 9}]}, "tictactoe"
        )
    sampler = StartSampler(make_game("tictactoe"), [OpeningStart(plies=8, max_tries=5)])
    with pytest.raises(ArenaError, match="use fewer plies or raise max_tries"):
        sampler.sample(np.random.default_rng(0), "first")  # X moves 9th and always ends the game


def test_start_weights_mix_start_kinds() -> None:
    game = make_game("tictactoe")
    sampler = StartSampler(
        game,
        [
            OpeningStart(plies=1, weight=1),
            PuzzleStart(puzzle="win-in-1", weight=2),
            PuzzleStart(puzzle="must-block", weight=0),
        ],
    )
    assert sampler.weights() == pytest.approx({"opening-1": 1 / 3, "win-in-1": 2 / 3, "must-block": 0.0})
    rng = np.random.default_rng(8)
    lengths = [len(sampler.sample(rng, "first")[0]) for _ in range(600)]
    share_openings = sum(n == 1 for n in lengths) / 600
    assert abs(share_openings - 1 / 3) < 0.07


@pytest.mark.skipif(importlib.util.find_spec("bitbully") is None, reason="bitbully (solver extra) not installed")
def test_openings_played_by_the_connect_four_solver() -> None:
    game = make_game("connect_four")
    sampler = StartSampler(game, [OpeningStart(plies=4, played_by="perfect")])
    moves, _ = sampler.sample(np.random.default_rng(0), "first")
    assert len(moves) == 4
