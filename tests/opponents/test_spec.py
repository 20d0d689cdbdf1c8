"""Tier names, spec validation, the noisy mix and the connect four solver."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from positions import near_full_positions

from arena.errors import MissingExtraError, OpponentSpecError
from arena.games import ConnectFour, TicTacToe
from opponents import (
    Minimax,
    MinimaxSpec,
    NoisyOpponent,
    NoisySpec,
    PerfectSpec,
    RandomOpponent,
    RandomSpec,
    make_opponent,
    parse_opponent,
)


@pytest.mark.parametrize(
    ("text", "spec", "tier"),
    [
        ("random", RandomSpec(), "random"),
        ("perfect", PerfectSpec(), "perfect"),
        ("perfect-first", PerfectSpec(tie_break="first"), "perfect-first"),
        ("depth-3", MinimaxSpec(depth=3), "depth-3"),
        ("depth-2-first", MinimaxSpec(depth=2, tie_break="first"), "depth-2-first"),
        ("depth-1-flat", MinimaxSpec(depth=1, heuristic=False), "depth-1-flat"),
        ("depth-2-flat-first", MinimaxSpec(depth=2, heuristic=False, tie_break="first"), "depth-2-flat-first"),
        ("noisy-0.25", NoisySpec(p=0.25), "noisy-0.25"),
        ("noisy-1", NoisySpec(p=1.0), "noisy-1"),
        (" Noisy-.5 ", NoisySpec(p=0.5), "noisy-0.5"),
    ],
)
def test_tier_names_round_trip(text, spec, tier):
    parsed = parse_opponent(text)
    assert parsed == spec and parsed.tier == tier
    assert parse_opponent(parsed.tier) == parsed
    assert parse_opponent(parsed.model_dump()) == parsed


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("noisy-1.5", "less than or equal to 1"),
        ("depth-0", "greater than or equal to 1"),
        ("expert", "unknown opponent tier 'expert'; tiers are: random"),
        ("depth-1-first-flat", "unknown opponent tier"),
        ("perfect-flat", "unknown opponent tier"),
        ({"kind": "noisy", "p": -0.1}, "invalid opponent spec"),
        ({"kind": "minimax"}, "depth"),
        ({"kind": "random", "extra": 1}, "Extra inputs are not permitted"),
        (3, "tier name or a spec dict"),
    ],
)
def test_bad_tiers_say_what_is_wrong(value, match):
    with pytest.raises(OpponentSpecError, match=match):
        parse_opponent(value)


def test_nested_noisy_spec_from_yaml_dict():
    spec = parse_opponent({"kind": "noisy", "p": 0.3, "inner": {"kind": "minimax", "depth": 2}})
    assert spec.tier == "noisy-0.3(depth-2)"
    opponent = make_opponent(spec, TicTacToe())
    assert isinstance(opponent, NoisyOpponent) and isinstance(opponent.inner, Minimax)
    assert opponent.name == "noisy-0.3(depth-2)"


def test_flat_search_takes_a_win_else_plays_at_random_and_blocks_only_from_depth_two():
    """Without the heuristic, depth-1 takes a win in one and otherwise draws among all moves alike, a threat to
    block included; depth-2 also blocks a win in one. `depth-1` proper blocks by its heuristic."""
    game = ConnectFour()
    threat = game.initial_state()
    for move in (3, 0, 3, 0, 3):  # X stacks three in column 3; O to move must block there
        threat = game.apply(threat, move)
    flat, flat2, depth1 = (make_opponent(t, game) for t in ("depth-1-flat", "depth-2-flat", "depth-1"))
    assert flat.name == "depth-1-flat" and flat.best_moves(threat) == tuple(range(7))
    rng = np.random.default_rng(0)
    assert {flat.choose(threat, rng) for _ in range(200)} == set(range(7))
    assert flat2.best_moves(threat) == (3,) and depth1.best_moves(threat) == (3,)
    win = game.apply(threat, 1)  # O did not block: X wins in column 3
    assert flat.best_moves(win) == (3,)


def test_bad_arguments_and_finished_games_raise_the_project_s_errors():
    """Each is an `ArenaError` (so one `except` catches every error a user can trigger) and still a `ValueError`."""
    from arena.errors import ArenaError, GameConfigError, GameOverError

    game = TicTacToe()
    over = game.play([0, 3, 1, 4, 2])  # X's top row
    rng = np.random.default_rng(0)
    for opponent in (RandomOpponent(game), Minimax(game), make_opponent("depth-1-flat", game)):
        with pytest.raises(GameOverError, match="no legal move: the game is over"):
            opponent.choose(over, rng)
    with pytest.raises(OpponentSpecError, match="search depth must be at least 1"):
        Minimax(game, depth=0)
    with pytest.raises(OpponentSpecError, match="tie_break must be 'random' or 'first'"):
        Minimax(game, tie_break="last")
    with pytest.raises(OpponentSpecError, match=r"noise probability must be in \[0, 1\]"):
        NoisyOpponent(game, RandomOpponent(game), 1.5)
    with pytest.raises(GameConfigError, match="connect length 9 cannot fit on a 6x7 board"):
        ConnectFour(connect=9)
    with pytest.raises(GameConfigError, match="at least one row and one column, got 0x7"):
        ConnectFour(rows=0)
    for error in (GameOverError, GameConfigError, OpponentSpecError):
        assert issubclass(error, ArenaError) and issubclass(error, ValueError)


def test_make_opponent_by_game_name_and_names():
    assert make_opponent("depth-2", "connect_four").name == "depth-2"
    assert isinstance(make_opponent("perfect", "tictactoe"), Minimax)


def test_noisy_extremes():
    game = TicTacToe()
    state = game.play([4])
    perfect = make_opponent("perfect", game)
    optimal = set(perfect.best_moves(state))
    never_random = make_opponent("noisy-0", game)
    assert {never_random.choose(state, np.random.default_rng(s)) for s in range(100)} <= optimal
    always_random = make_opponent("noisy-1", game)
    picks = {always_random.choose(state, np.random.default_rng(s)) for s in range(300)}
    assert picks == set(game.legal_moves(state))


def test_noisy_rate_matches_p():
    game = TicTacToe()
    state = game.play([0])
    # After a corner opening only the centre (4) avoids a loss; a random move finds it 1/8 of the time.
    noisy = NoisyOpponent(game, Minimax(game), p=0.4)
    rng = np.random.default_rng(0)
    picks = [noisy.choose(state, rng) for _ in range(4000)]
    non_optimal = sum(m != 4 for m in picks) / len(picks)
    assert abs(non_optimal - 0.4 * 7 / 8) < 0.03


NOISY_DEPTH_1 = {"kind": "noisy", "p": 0.3, "inner": {"kind": "minimax", "depth": 1}}


@pytest.mark.parametrize("tier", ["random", "noisy-0.5", "depth-2", NOISY_DEPTH_1])
def test_choose_many_plays_what_choose_plays_game_by_game(tier):
    game = ConnectFour()
    opponent = make_opponent(tier, game)
    reached = [game.play_random(plies, np.random.default_rng(plies))[0] for plies in range(12)]
    states = [state for state in reached if not game.is_over(state)]
    alone = [opponent.choose(state, np.random.default_rng(i)) for i, state in enumerate(states)]
    rngs = [np.random.default_rng(i) for i in range(len(states))]
    assert opponent.choose_many(states, rngs) == alone
    assert [int(r.integers(1 << 30)) for r in rngs] == [  # each game's generator left where `choose` leaves it
        int(r.integers(1 << 30)) for r in _after_choose(opponent, states)
    ]


def _after_choose(opponent, states):
    rngs = [np.random.default_rng(i) for i in range(len(states))]
    for state, rng in zip(states, rngs, strict=True):
        opponent.choose(state, rng)
    return rngs


def test_random_is_uniform_and_seeded():
    game = ConnectFour()
    rnd = RandomOpponent(game)
    state = game.initial_state()
    counts = np.bincount([rnd.choose(state, np.random.default_rng(s)) for s in range(7000)], minlength=7)
    assert counts.min() > 850 and counts.max() < 1150
    a = [rnd.choose(state, np.random.default_rng(7)) for _ in range(5)]
    assert len(set(a)) == 1


def test_perfect_connect_four_without_solver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitbully", None)  # makes `import bitbully` raise ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'arena\[solver\]'"):
        make_opponent("perfect", "connect_four")


def test_perfect_on_small_connect_board_uses_exact_search():
    opponent = make_opponent("perfect", ConnectFour(rows=4, columns=4, connect=3))
    assert isinstance(opponent, Minimax)


def test_solver_plays_only_optimal_moves():
    pytest.importorskip("bitbully")
    game = ConnectFour()
    solver, exact = make_opponent("perfect", game), Minimax(game)
    for state in near_full_positions(game, empties=10, count=25, seed=5):
        optimal = exact.best_moves(state)
        assert solver.best_moves(state) == optimal
        picks = {solver.choose(state, np.random.default_rng(s)) for s in range(12 * len(optimal))}
        assert picks <= set(optimal)


def test_solver_opening_and_tie_break():
    pytest.importorskip("bitbully")
    game = ConnectFour()
    solver = make_opponent("perfect", game)
    assert solver.best_moves(game.initial_state()) == (3,)
    # After 3 3 4 4 both ends of X's pair win at once: columns 2 and 5 tie and both must be played.
    state = game.play([3, 3, 4, 4])
    assert solver.best_moves(state) == (2, 5)
    assert {solver.choose(state, np.random.default_rng(s)) for s in range(40)} == {2, 5}
    assert make_opponent("perfect-first", game).choose(state, np.random.default_rng(0)) == 2


def test_noisy_inner_accepts_a_tier_name():
    assert parse_opponent({"kind": "noisy", "p": 0.2, "inner": "depth-2"}).tier == "noisy-0.2(depth-2)"


def test_cache_shares_inner_opponents_across_noisy_tiers():
    game = TicTacToe()
    cache: dict = {}
    a, b = make_opponent("noisy-0.1", game, cache), make_opponent("noisy-0.2", game, cache)
    assert a.inner is b.inner is cache["perfect"]
    assert make_opponent("noisy-0.1", game, cache) is a
