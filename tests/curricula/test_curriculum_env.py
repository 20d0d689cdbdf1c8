"""Curricula drive the text env end to end: specs reset episodes, final infos come back as results."""

from __future__ import annotations

import numpy as np
import pytest

from arena.env import TextGameEnv
from curricula import AdaptiveCurriculum, EpisodeSpec, GameResult, make_curriculum


def _play(env: TextGameEnv, spec: EpisodeSpec, agent: np.random.Generator) -> dict:
    """One episode from `spec` with random legal agent moves; the final info."""
    _, info = env.reset(seed=0, options=spec.to_options())
    while True:
        move = int(agent.choice(info["legal_moves"]))
        _, _, terminated, truncated, info = env.step(f"<think>.</think><move>{move}</move>")
        if terminated or truncated:
            return info


@pytest.mark.parametrize("name", ["tictactoe", "connect_four"])
def test_a_batch_plays_through_the_env_and_updates_the_curriculum(name: str) -> None:
    config = {
        "kind": "adaptive",
        "levels": ["random", {"random": 1, "depth-2": 1}],
        "window": 8,
        "min_games": 8,
        "lower": 0.2,
        "upper": 0.4,
        "starts": [{"kind": "empty"}, {"kind": "opening", "plies": 2}, {"kind": "puzzle", "puzzle": "must-block"}],
    }
    curriculum = make_curriculum(config, name)
    assert isinstance(curriculum, AdaptiveCurriculum)
    env = TextGameEnv(name)
    rng, agent = np.random.default_rng(0), np.random.default_rng(1)
    batch = curriculum.sample_batch(rng, 4, 2)
    infos = [_play(env, spec, agent) for spec in batch]
    for spec, info in zip(batch, infos, strict=True):
        assert info["opponent"] == spec.tier and info["seat"] == spec.agent_seat
        assert info["moves"][: len(spec.start)] == list(spec.start)
    curriculum.update(infos)
    assert curriculum.games_seen == 8
    expected = sum(GameResult.from_info(i).score for i in infos) / 8
    if curriculum.history:  # the random agent may or may not have cleared the (low) bar
        assert curriculum.history[0]["score"] == pytest.approx(expected)
    else:
        assert curriculum.score == pytest.approx(expected)


def test_a_group_replays_the_same_game_for_the_same_answers() -> None:
    # Same opponent, seat, start and opponent seed: identical agent moves meet identical replies, so the
    # group baseline compares like with like.
    curriculum = make_curriculum({"kind": "fixed", "opponents": {"noisy-0.5": 1}}, "connect_four")
    group = curriculum.sample_group(np.random.default_rng(2), 3)
    env = TextGameEnv("connect_four")
    games = [_play(env, spec, np.random.default_rng(9))["moves"] for spec in group]
    assert games[0] == games[1] == games[2]
