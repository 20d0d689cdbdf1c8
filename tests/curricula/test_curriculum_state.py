"""State round-trips: a resumed curriculum makes exactly the draws the original would have made."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable

import numpy as np
import pytest

from arena.errors import ArenaError
from curricula import AdaptiveCurriculum, FixedCurriculum, GameResult, make_curriculum

STARTS = [{"kind": "empty"}, {"kind": "opening", "plies": 2, "max_plies": 3}, {"kind": "puzzle", "puzzle": "win-in-1"}]
CONFIGS = {
    "fixed": {"kind": "fixed", "opponents": {"random": 0.3, "noisy-0.5": 0.4, "perfect": 0.3}, "starts": STARTS},
    "stratified": {"kind": "stratified", "range": {"low": 0.1, "high": 0.9}, "buckets": 4, "sample_within": "uniform"},
    "scheduled": {
        "kind": "scheduled",
        "interpolation": "cosine",
        "waypoints": [{"step": 0, "opponents": "random"}, {"step": 20, "opponents": {"random": 1, "depth-2": 1}}],
    },
    "adaptive": {
        "kind": "adaptive",
        "levels": ["random", {"random": 1, "perfect": 1}, "perfect"],
        "window": 20,
        "min_games": 10,
        "starts": STARTS,
    },
}

ResultsFactory = Callable[[str], list[GameResult]]


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_state_round_trip_resumes_to_identical_draws(kind: str, results: ResultsFactory) -> None:
    config = CONFIGS[kind]
    original = make_curriculum(config, "tictactoe")
    rng = np.random.default_rng(5)
    for step in range(6):  # a short training run: sample, play, report
        original.set_step(step)
        original.sample_batch(rng, 4, 2)
        original.update(results("wwwwwdwl" if step < 3 else "lwd"))
    state = json.loads(json.dumps(original.state_dict(rng)))  # a checkpoint survives JSON

    resumed = make_curriculum(config, "tictactoe")
    resumed_rng = np.random.default_rng(999)
    resumed.load_state_dict(state, resumed_rng)
    assert resumed.step == original.step and resumed.describe() == original.describe()
    for step in range(6, 12):
        original.set_step(step)
        resumed.set_step(step)
        assert resumed.sample_batch(resumed_rng, 3, 2) == original.sample_batch(rng, 3, 2)
        original.update(results("wlwdww"))
        resumed.update(results("wlwdww"))
        assert resumed.describe() == original.describe()


def test_adaptive_state_keeps_level_window_and_history(results: ResultsFactory) -> None:
    config = CONFIGS["adaptive"]
    original = make_curriculum(config, "tictactoe")
    assert isinstance(original, AdaptiveCurriculum)
    original.set_step(3)
    original.update(results("w" * 10))
    original.update(results("wwd"))
    state = original.state_dict()
    assert state["level"] == 1 and state["window"] == [1.0, 1.0, 0.5] and state["history"][0]["step"] == 3
    assert "rng" not in state
    resumed = make_curriculum(config, "tictactoe")
    resumed.load_state_dict(state)
    assert isinstance(resumed, AdaptiveCurriculum)
    assert (resumed.level, resumed.score, resumed.history) == (original.level, original.score, original.history)
    resumed.update(results("w" * 7))  # 10 games since the move: the next promotion comes on time
    assert resumed.level == 2


def test_league_additions_survive_a_resume(rng: np.random.Generator) -> None:
    original = make_curriculum(CONFIGS["fixed"], "tictactoe")
    assert isinstance(original, FixedCurriculum)
    original.add_opponent({"kind": "model", "path": "runs/a/step-10", "label": "snap-10"}, 0.25)
    resumed = make_curriculum(CONFIGS["fixed"], "tictactoe")
    resumed.load_state_dict(json.loads(json.dumps(original.state_dict())))
    assert resumed.mixture() == original.mixture() and "snap-10" in resumed.mixture()


def test_loading_into_the_wrong_curriculum_is_refused() -> None:
    fixed = make_curriculum(CONFIGS["fixed"], "tictactoe")
    adaptive = make_curriculum(CONFIGS["adaptive"], "tictactoe")
    with pytest.raises(ArenaError, match="from a 'fixed' curriculum; load it into a 'adaptive' one"):
        adaptive.load_state_dict(fixed.state_dict())
    state = adaptive.state_dict()
    with pytest.raises(ArenaError, match="version"):
        adaptive.load_state_dict({**state, "version": 99})
    two_levels = make_curriculum({**CONFIGS["adaptive"], "levels": ["random", "perfect"]}, "tictactoe")
    with pytest.raises(ArenaError, match="saved level 2 does not exist"):
        two_levels.load_state_dict({**state, "level": 2})


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_curricula_pickle_for_worker_processes(kind: str) -> None:
    original = make_curriculum(CONFIGS[kind], "tictactoe")
    copy = pickle.loads(pickle.dumps(original))
    draws = copy.sample_batch(np.random.default_rng(3), 4, 2)
    assert draws == original.sample_batch(np.random.default_rng(3), 4, 2)
