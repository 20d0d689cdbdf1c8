"""Episode specs map onto env.reset(options=...); game results come from the env's final info."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from arena.env import TextGameEnv
from arena.errors import ArenaError
from curricula import EpisodeSpec, GameResult
from opponents import ModelSpec, NoisySpec, PerfectSpec


def _play_out(env: TextGameEnv, info: dict, rng: np.random.Generator) -> dict:
    """Random legal moves for the agent until the episode ends; the last info."""
    done = False
    while not done:
        move = int(rng.choice(info["legal_moves"]))
        _, _, terminated, truncated, info = env.step(f"<think>.</think><move>{move}</move>")
        done = terminated or truncated
    return info


def test_spec_accepts_tier_names_and_is_frozen() -> None:
    spec = EpisodeSpec(opponent="noisy-0.3", agent_seat="second", start=[4], opponent_seed=7)
    assert spec.opponent == NoisySpec(p=0.3)
    assert spec.tier == "noisy-0.3"
    assert spec.start == (4,)
    with pytest.raises(ValidationError, match="frozen"):
        spec.agent_seat = "first"  # type: ignore[misc]
    assert hash(spec) == hash(EpisodeSpec(opponent=NoisySpec(p=0.3), agent_seat="second", start=(4,), opponent_seed=7))


def test_spec_rejects_a_random_seat_because_groups_must_share_one() -> None:
    with pytest.raises(ValidationError, match="agent_seat"):
        EpisodeSpec(opponent="random", agent_seat="random", opponent_seed=0)
    with pytest.raises(ValidationError, match="unknown opponent tier"):
        EpisodeSpec(opponent="rando", agent_seat="first", opponent_seed=0)


def test_options_drive_the_env_and_come_back_in_info() -> None:
    spec = EpisodeSpec(opponent="depth-2", agent_seat="second", start=(0, 4), opponent_seed=99)
    options = spec.to_options()
    assert options == {
        "opponent": {"kind": "minimax", "depth": 2, "tie_break": "random", "heuristic": True},
        "agent_seat": "second",
        "start": [0, 4],
        "opponent_seed": 99,
    }
    env = TextGameEnv("tictactoe")
    _, info = env.reset(seed=0, options=options)
    assert info["opponent"] == spec.tier
    assert info["seat"] == "second"
    assert info["opponent_seed"] == 99
    assert info["moves"][:2] == [0, 4] and len(info["moves"]) == 3  # the opponent (X) moved once more


def test_model_snapshot_specs_pass_through_options() -> None:
    spec = EpisodeSpec(opponent="model:runs/step-100", agent_seat="first", opponent_seed=1)
    assert spec.opponent == ModelSpec(path="runs/step-100")
    assert spec.to_options()["opponent"]["kind"] == "model"


def test_result_from_a_finished_env_episode() -> None:
    env = TextGameEnv("tictactoe")
    _, info = env.reset(seed=3, options={"opponent": "random", "agent_seat": "first"})
    info = _play_out(env, info, np.random.default_rng(0))
    result = GameResult.from_info(info)
    assert result.opponent == "random"
    assert result.seat == "first"
    assert result.outcome == info["result"]
    assert result.score == {"win": 1.0, "draw": 0.5, "loss": 0.0}[info["result"]]


def test_result_of_an_unfinished_episode_is_refused() -> None:
    env = TextGameEnv("tictactoe")
    _, info = env.reset(seed=0, options={"opponent": PerfectSpec().tier})
    with pytest.raises(ArenaError, match="has not ended"):
        GameResult.from_info(info)
    with pytest.raises(ArenaError, match="lacks"):
        GameResult.from_info({"result": "win"})


def test_result_scores_and_validation() -> None:
    assert GameResult(opponent="random", seat="first", outcome="draw").score == 0.5
    assert GameResult(opponent="random", seat="first", outcome="truncated").score == 0.0
    with pytest.raises(ValidationError, match="outcome"):
        GameResult(opponent="random", seat="first", outcome="forfeit")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        GameResult(opponent="random", seat="first", outcome="win", invalid_moves=-1)
