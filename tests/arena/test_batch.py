"""play_batched: the one loop of many games in flight that rollouts and evaluation share; the opponents that games
share reply to all of them at once."""

from __future__ import annotations

import pytest

from arena.batch import Table, play_batched
from arena.env import TextGameEnv, play_opponents
from arena.errors import ArenaError
from opponents import RandomOpponent


def _answer(move):
    return f"<think></think><move>{move}</move>"


def _tables(n, started):
    for i in range(n):
        env = TextGameEnv("tictactoe", opponent="random", agent_seat="first")
        _, info = env.reset(seed=i)
        started.append(i)
        yield Table(env, info, data=i)


def test_games_join_while_fewer_than_in_flight_are_played_and_leave_when_over():
    started, rounds, ended = [], [], []

    def answer(active):
        rounds.append([t.data for t in active])
        assert len(started) <= len(ended) + 3  # a game starts only when a place is free
        return [_answer(t.info["legal_moves"][0]) for t in active]

    def on_step(table, played):
        assert table.info is not played.info  # still the info the answer was given for
        assert played.before is not table.env.state or played.over
        if played.over:
            ended.append(table.data)
            assert table.env.outcome is not None and table.transcript[-1]["completion"] == played.answer
        return True

    play_batched(_tables(7, started), answer, on_step, in_flight=3)
    assert sorted(ended) == list(range(7)) and rounds[0] == [0, 1, 2]
    assert max(len(r) for r in rounds) == 3


def test_a_game_left_unanswered_or_cut_short_leaves_and_none_stops_all():
    started, stepped = [], []

    def answer(active):
        if len(stepped) >= 4:
            return None  # stop playing altogether
        return [None if t.data == 1 else _answer(t.info["legal_moves"][0]) for t in active]

    def on_step(table, played):
        stepped.append(table.data)
        return table.data != 2  # game 2 is cut short after its first turn

    tables = list(_tables(4, started))
    play_batched(tables, answer, on_step)
    assert stepped[:3] == [0, 2, 3] and 1 not in stepped and stepped.count(2) == 1
    assert len(stepped) == 5 and tables[1].transcript == [] and len(tables[2].transcript) == 1
    assert all(t.env.outcome is None for t in tables)  # stopped before any game ended


def test_an_answer_count_that_does_not_match_is_refused():
    with pytest.raises(ArenaError, match="1 answers for 2 games in flight"):
        play_batched(list(_tables(2, [])), lambda active: [_answer(0)], lambda table, played: True)


class _CountingRandom(RandomOpponent):
    """The random tier, noting how many games each `choose_many` call answered."""

    def __init__(self, game):
        super().__init__(game)
        self.batches = []

    def choose_many(self, states, rngs):
        self.batches.append(len(states))
        return super().choose_many(states, rngs)


def test_an_opponent_shared_by_games_replies_to_all_of_them_at_once_and_plays_the_same_moves():
    shared = {}
    envs = [TextGameEnv("tictactoe", opponent="random", opponent_cache=shared) for _ in range(6)]
    opponent = shared["random"] = _CountingRandom(envs[0].game)
    tables = []
    for seed, env in enumerate(envs):
        _, info = env.reset(seed=seed, options={"opponent": "random"})
        tables.append(Table(env, info))

    def answer(active):
        return [_answer(t.info["legal_moves"][-1]) for t in active]

    play_batched(tables, answer, lambda table, played: True)
    assert max(opponent.batches) == 6  # every game's reply in one call, after the agents' moves
    for seed, env in enumerate(envs):  # the same game as one env stepped alone
        alone = TextGameEnv("tictactoe", opponent="random")
        _, info = alone.reset(seed=seed)
        done = False
        while not done:
            _, _, terminated, truncated, info = alone.step(_answer(info["legal_moves"][-1]))
            done = terminated or truncated
        assert alone.outcome == env.outcome


def test_a_step_in_halves_is_a_step_and_its_halves_are_called_in_order():
    env = TextGameEnv("tictactoe", opponent="random", agent_seat="first")
    env.reset(seed=0)
    with pytest.raises(ArenaError, match="without begin_step"):
        env.end_step()
    env.begin_step(_answer(4))
    with pytest.raises(ArenaError, match="a step is under way"):
        env.begin_step(_answer(0))
    assert env.opponent_to_move()
    play_opponents([env])
    assert not env.opponent_to_move()
    _, _, _, _, info = env.end_step()
    assert info["agent_move"] == 4 and len(info["opponent_moves"]) == 1 and len(info["moves"]) == 2
    env.begin_step("no move here")  # a forfeit: the opponent does not reply
    assert not env.opponent_to_move()
    assert env.end_step()[2] and env.outcome.forfeit
