"""play_batched: the one loop of many games in flight that rollouts and evaluation share."""

from __future__ import annotations

import pytest

from arena.batch import Table, play_batched
from arena.env import TextGameEnv
from arena.errors import ArenaError


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
