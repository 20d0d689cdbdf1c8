"""The typed outcome of a finished game: what the env hands over, and what evaluation, rollouts and curricula read."""

from __future__ import annotations

import numpy as np
import pytest

from arena.env import TextGameEnv
from arena.errors import ArenaError
from arena.outcome import SCORES, Outcome
from curricula import OUTCOME_SCORE, GameResult


def answer(move, think=""):
    return f"<think>{think}</think><move>{move}</move>"


@pytest.mark.parametrize(
    ("game", "options", "policy"),
    [
        ("tictactoe", {"agent_seat": "first"}, "forfeit"),
        ("tictactoe", {"agent_seat": "second", "opponent": "depth-2"}, "random"),
        ("connect_four", {"agent_seat": "second", "start": [3]}, "retry"),
    ],
)
def test_the_outcome_is_the_last_info_typed(game, options, policy):
    env = TextGameEnv(game, opponent="random", invalid_move=policy, max_agent_turns=12)
    rng = np.random.default_rng(0)
    for seed in range(40):
        _, info = env.reset(seed=seed, options=options)
        done = False
        while not done:
            assert env.outcome is None
            legal = info["legal_moves"] or [0]
            text = "nonsense" if rng.random() < 0.2 else answer(int(rng.choice(legal)), think="x")
            _, _, terminated, truncated, info = env.step(text)
            done = terminated or truncated
        outcome = env.outcome
        assert outcome == Outcome.from_info(info)
        assert (outcome.result, outcome.seat, outcome.opponent) == (info["result"], info["seat"], info["opponent"])
        assert list(outcome.moves) == info["moves"] and outcome.forfeit == info["forfeit"]
        assert outcome.invalid_moves == len(info["invalid_reasons"]) == info["invalid_moves"]
        assert outcome.formatted_turns == info["agent_turns"] - info["format_errors"]
        assert outcome.score == {"win": 1.0, "draw": 0.5}.get(info["result"], 0.0)
        assert GameResult.of(outcome) == GameResult.from_info(info)


def test_a_forfeit():
    env = TextGameEnv("tictactoe", opponent="random", agent_seat="first", invalid_move="forfeit")
    env.reset(seed=0)
    env.step("no idea")
    outcome = env.outcome
    assert outcome.result == "loss" and outcome.forfeit and outcome.invalid_moves == outcome.format_errors == 1
    assert outcome.score == 0.0
    env.reset(seed=1)
    assert env.outcome is None  # a new game has no outcome yet


def test_reading_an_outcome_from_an_unfinished_info_is_refused():
    env = TextGameEnv("tictactoe")
    _, info = env.reset(seed=0)
    with pytest.raises(ArenaError, match="has not ended"):
        Outcome.from_info(info)
    with pytest.raises(ArenaError, match=r"lacks \['opponent', 'seat', 'moves'\]"):
        Outcome.from_info({"result": "win"})


def test_one_score_table():
    assert OUTCOME_SCORE is SCORES
    assert SCORES == {"win": 1.0, "draw": 0.5, "loss": 0.0, "truncated": 0.0}


def test_a_curriculum_takes_outcomes_as_it_takes_final_infos():
    from curricula import make_curriculum

    config = {"kind": "adaptive", "levels": ["random", "depth-2"], "window": 6, "min_games": 6, "upper": 0.99}
    by_info, by_outcome = make_curriculum(config, "tictactoe"), make_curriculum(config, "tictactoe")
    env = TextGameEnv("tictactoe", opponent="random")
    infos, outcomes = [], []
    for seed in range(6):
        _, info = env.reset(seed=seed)
        while env.outcome is None:
            _, _, _, _, info = env.step(answer(info["legal_moves"][-1]))
        infos.append(info)
        outcomes.append(env.outcome)
    by_info.update(infos)
    by_outcome.update(outcomes)
    assert by_outcome.games_seen == 6 and by_outcome.score == by_info.score
    assert by_outcome.score == pytest.approx(np.mean([o.score for o in outcomes]))
