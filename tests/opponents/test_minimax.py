"""Minimax against independent brute force, randomized tie-breaking, and play strength."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from positions import near_full_positions
from small_games import ClaimBlocks, MisereTicTacToe, SmallOthello, optimal_moves, reachable, solve

from arena.errors import ArenaError
from arena.games import DRAW, ConnectFour, TicTacToe
from opponents import Minimax, RandomOpponent, make_opponent
from opponents.minimax import WIN, proven_value

# Every shape of game: alternating turns (tic-tac-toe), extra turns (ClaimBlocks), the last mover losing
# (misere), implicit passes with a disc count deciding (SmallOthello), and a return that pays the margin.
GAMES = {
    "tictactoe": TicTacToe(),
    "extra_turns": ClaimBlocks(),
    "misere": MisereTicTacToe(),
    "passes_and_score": SmallOthello(),
    "score_margin": SmallOthello(margin=True),
}


def expected_value(mover_return, plies):
    """The search value of an outcome worth `mover_return` to the player to move, `plies` moves away."""
    value = proven_value(mover_return)
    return value - plies if value > 0 else value + plies if value < 0 else 0


def mover_return(game, state, memo):
    value, plies = solve(game, state, memo)
    return (value if game.to_move(state) == 0 else -value), plies


@cache
def positions(name):
    return [state for state in reachable(GAMES[name]) if not GAMES[name].is_over(state)]


def test_tictactoe_reachable_position_count():
    assert len(reachable(TicTacToe())) == 5478  # the well-known count of reachable tic-tac-toe positions


@pytest.mark.parametrize("name", GAMES)
def test_perfect_matches_brute_force_in_every_reachable_position(name):
    game, memo = GAMES[name], {}
    perfect = Minimax(game)
    for state in positions(name):
        assert perfect.value(state) == expected_value(*mover_return(game, state, memo)), state
        assert perfect.best_moves(state) == optimal_moves(game, state, memo), state


def test_the_small_games_have_their_shapes():
    """The brute-force games really pass, give extra turns, and let the last mover lose (else the tests above
    would prove nothing about those cases)."""

    def count(name, predicate):
        game = GAMES[name]
        return sum(predicate(game, s, m) for s in positions(name) for m in game.legal_moves(s))

    def same_player_again(game, state, move):
        after = game.apply(state, move)
        return not game.is_over(after) and game.to_move(after) == game.to_move(state)

    def last_mover_loses(game, state, move):
        after = game.apply(state, move)
        return game.is_over(after) and game.returns(after)[game.to_move(state)] < 0

    assert count("extra_turns", same_player_again) > 100
    assert count("passes_and_score", same_player_again) > 10
    assert count("misere", last_mover_loses) > 100
    assert count("passes_and_score", last_mover_loses) > 10
    margins = {GAMES["score_margin"].returns(s)[0] for s in reachable(GAMES["score_margin"]) if s.result is not None}
    assert len(margins) > 3


@pytest.mark.parametrize("name", GAMES)
def test_perfect_samples_exactly_the_optimal_set(name):
    game, memo = GAMES[name], {}
    perfect = make_opponent("perfect", game)
    checked = 0
    sample = positions(name)[:: max(1, len(positions(name)) // 100)]
    for state in sample:
        optimal = set(optimal_moves(game, state, memo))
        picks = {perfect.choose(state, np.random.default_rng(seed)) for seed in range(60)}
        assert picks == optimal, state
        checked += len(optimal) > 1
    assert checked > 5  # many positions really had a choice to make


@pytest.mark.parametrize("name", GAMES)
def test_depth_limited_search_deep_enough_is_exact(name):
    game = GAMES[name]
    deep, perfect = Minimax(game, depth=game.info.max_game_length), Minimax(game)
    for state in positions(name)[::7]:
        assert deep.move_values(state) == perfect.move_values(state), state


def test_tictactoe_every_opening_draws():
    assert make_opponent("perfect", TicTacToe()).best_moves(TicTacToe().initial_state()) == tuple(range(9))


def test_returns_that_are_not_zero_sum_are_refused():
    class Lopsided(SmallOthello):
        def returns(self, state):
            return (1.0, 1.0)

    with pytest.raises(ArenaError, match="zero-sum pair"):
        Minimax(Lopsided()).best_moves(Lopsided().initial_state())


def test_first_tie_break_is_deterministic():
    game = TicTacToe()
    first = make_opponent("perfect-first", game)
    state = game.initial_state()
    assert {first.choose(state, np.random.default_rng(s)) for s in range(20)} == {0}
    assert first.name == "perfect-first"


def test_connect_four_near_full_positions_match_exhaustive_search():
    game = ConnectFour()
    perfect = Minimax(game)
    memo: dict = {}
    for state in near_full_positions(game, empties=9, count=40, seed=1):
        values = perfect.move_values(state)
        for move, value in values.items():
            outcome, plies = solve(game, game.apply(state, move), memo)
            assert value == expected_value(outcome if game.to_move(state) == 0 else -outcome, plies + 1)


def test_depth_limited_search_respects_depth_and_heuristic():
    game = ConnectFour()
    d1 = Minimax(game, depth=1)
    # At depth 1 a non-winning move is scored by the heuristic alone, so values are not proven results.
    values = d1.move_values(game.initial_state())
    assert all(abs(v) < WIN // 2 for v in values.values())
    assert max(values, key=values.get) == 3  # the centre column opens the most lines
    with pytest.raises(ValueError, match="at least 1"):
        Minimax(game, depth=0)


def positions_with(game, predicate, count, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        state = game.initial_state()
        while not game.is_over(state):
            if predicate(state):
                out.append(state)
                break
            state = game.apply(state, int(rng.choice(game.legal_moves(state))))
    return out


def winning_moves(game, state):
    return {m for m in game.legal_moves(state) if game.winner(game.apply(state, m)) == game.to_move(state)}


def threats_against(game, state):
    """Columns where the opponent would win if it were their turn now."""
    me = game.to_move(state)
    flipped = state._replace(player=1 - me)
    return winning_moves(game, flipped)


def test_depth_2_never_misses_a_win_in_one_connect_four():
    game = ConnectFour()
    d2 = make_opponent("depth-2", game)
    positions = positions_with(game, lambda s: bool(winning_moves(game, s)), 60, seed=2)
    for state in positions:
        wins = winning_moves(game, state)
        for seed in range(5):
            assert d2.choose(state, np.random.default_rng(seed)) in wins


def test_depth_2_always_blocks_a_single_threat_connect_four():
    game = ConnectFour()
    d2 = make_opponent("depth-2", game)

    def must_block(state):
        # One threat, and blocking it does not hand the opponent another immediate win (as a threat
        # stacked right above the blocking cell would): then blocking is the only move that survives ply 2.
        if winning_moves(game, state) or len(threats_against(game, state)) != 1:
            return False
        (threat,) = threats_against(game, state)
        return not winning_moves(game, game.apply(state, threat))

    for state in positions_with(game, must_block, 60, seed=3):
        (threat,) = threats_against(game, state)
        for seed in range(5):
            assert d2.choose(state, np.random.default_rng(seed)) == threat


def play_games(game, first, second, n, seed):
    rng = np.random.default_rng(seed)
    results = {"a": 0, "b": 0, "draw": 0}
    for i in range(n):
        seats = (first, second) if i % 2 == 0 else (second, first)
        names = ("a", "b") if i % 2 == 0 else ("b", "a")
        state = game.initial_state()
        while not game.is_over(state):
            state = game.apply(state, seats[game.to_move(state)].choose(state, rng))
        w = game.winner(state)
        results["draw" if w == DRAW else names[w]] += 1
    return results


def test_perfect_never_loses_to_random_tictactoe():
    game = TicTacToe()
    results = play_games(game, make_opponent("perfect", game), RandomOpponent(game), 500, seed=0)
    assert results["b"] == 0
    assert results["a"] > 400


@pytest.mark.slow
def test_depth_4_never_loses_to_random_connect_four():
    game = ConnectFour()
    results = play_games(game, make_opponent("depth-4", game), RandomOpponent(game), 200, seed=0)
    assert results["b"] == 0


def test_caches_are_dropped_when_pickled():
    import pickle

    game = TicTacToe()
    perfect = Minimax(game)
    perfect.best_moves(game.initial_state())
    clone = pickle.loads(pickle.dumps(perfect))
    assert clone._table == {} and clone.best_moves(game.initial_state()) == tuple(range(9))
