"""Minimax against independent brute force, randomized tie-breaking, and play strength."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from positions import near_full_positions

from arena.games import DRAW, ConnectFour, TicTacToe
from opponents import Minimax, RandomOpponent, make_opponent
from opponents.minimax import WIN


def brute_force(game, state, memo):
    """Plain negamax with no pruning and no shared code: (outcome for the mover, plies to the end).

    The mover prefers wins, then draws, then losses; among wins the fastest, among losses the slowest.
    """
    key = game.key(state)
    if key in memo:
        return memo[key]
    winner = game.winner(state)
    if winner is not None:
        result = (0, 0) if winner == DRAW else (-1, 0)
    else:
        options = []
        for move in game.legal_moves(state):
            outcome, plies = brute_force(game, game.apply(state, move), memo)
            options.append((-outcome, plies + 1))
        result = max(options, key=_rank)
    memo[key] = result
    return result


def _rank(option):
    outcome, plies = option
    return (outcome, -plies if outcome > 0 else plies if outcome < 0 else 0)


def as_outcome(value):
    if value > WIN // 2:
        return (1, WIN - value)
    if value < -WIN // 2:
        return (-1, WIN + value)
    assert value == 0
    return (0, None)


def reachable(game):
    seen, stack, out = set(), [game.initial_state()], []
    while stack:
        state = stack.pop()
        if game.key(state) in seen:
            continue
        seen.add(game.key(state))
        out.append(state)
        for move in game.legal_moves(state):
            stack.append(game.apply(state, move))
    return out


@lru_cache(maxsize=1)
def tictactoe_positions():
    return reachable(TicTacToe())


def test_tictactoe_every_reachable_position_matches_brute_force():
    game = TicTacToe()
    positions = tictactoe_positions()
    assert len(positions) == 5478  # the well-known count of reachable tic-tac-toe positions
    memo: dict = {}
    perfect = Minimax(game)
    for state in positions:
        if game.is_over(state):
            continue
        outcome, plies = brute_force(game, state, memo)
        got = as_outcome(perfect.value(state))
        assert got[0] == outcome, state
        if outcome != 0:
            assert got[1] == plies, state
        # The optimal set: every move whose brute-force option ranks best.
        options = {
            m: (-brute_force(game, game.apply(state, m), memo)[0], brute_force(game, game.apply(state, m), memo)[1] + 1)
            for m in game.legal_moves(state)
        }
        best = max(map(_rank, options.values()))
        optimal = tuple(sorted(m for m, o in options.items() if _rank(o) == best))
        assert perfect.best_moves(state) == optimal, state


def test_tictactoe_perfect_samples_exactly_the_optimal_set():
    game = TicTacToe()
    perfect = make_opponent("perfect", game)
    checked = 0
    for state in tictactoe_positions()[::40]:
        if game.is_over(state):
            continue
        optimal = set(perfect.best_moves(state))
        picks = {perfect.choose(state, np.random.default_rng(seed)) for seed in range(150)}
        assert picks == optimal, state
        checked += len(optimal) > 1
    assert checked > 20  # many positions really had a choice to make
    # The empty board: every opening draws, so all nine must be played.
    assert perfect.best_moves(game.initial_state()) == tuple(range(9))


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
            outcome, plies = brute_force(game, game.apply(state, move), memo)
            got = as_outcome(value)
            assert got[0] == -outcome
            if outcome != 0:
                assert got[1] == plies + 1


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
