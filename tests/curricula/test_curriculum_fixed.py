"""Fixed mixtures: frequencies follow the weights, groups share their episode, same seed same draws."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from arena.errors import ArenaError
from curricula import FixedCurriculum, make_curriculum

MIX = {"random": 0.3, "noisy-0.5": 0.4, "perfect": 0.3}


def _fixed(**extra: object) -> FixedCurriculum:
    curriculum = make_curriculum({"kind": "fixed", "opponents": MIX, **extra}, "tictactoe")
    assert isinstance(curriculum, FixedCurriculum)
    return curriculum


def test_frequencies_match_weights(rng: np.random.Generator) -> None:
    curriculum = _fixed()
    n = 20_000
    counts = Counter(spec.tier for spec in curriculum.sample_batch(rng, n, 1))
    for tier, weight in MIX.items():
        sigma = (weight * (1 - weight) / n) ** 0.5
        assert abs(counts[tier] / n - weight) < 5 * sigma, (tier, counts[tier] / n)
    seats = Counter(spec.agent_seat for spec in curriculum.sample_batch(rng, 4000, 1))
    assert abs(seats["first"] / 4000 - 0.5) < 5 * (0.25 / 4000) ** 0.5


def test_unnormalised_and_zero_weights(rng: np.random.Generator) -> None:
    curriculum = make_curriculum({"kind": "fixed", "opponents": {"random": 3, "perfect": 1, "depth-2": 0}}, "tictactoe")
    assert curriculum.mixture() == {"random": 0.75, "perfect": 0.25, "depth-2": 0.0}
    assert "depth-2" not in {spec.tier for spec in curriculum.sample_batch(rng, 500, 1)}


def test_group_is_one_episode_repeated(rng: np.random.Generator) -> None:
    curriculum = _fixed(starts=[{"kind": "opening", "plies": 2}])
    group = curriculum.sample_group(rng, 8)
    assert len(group) == 8 and len(set(group)) == 1
    batch = curriculum.sample_batch(rng, 6, 4)
    groups = [batch[i : i + 4] for i in range(0, 24, 4)]
    assert all(len(set(g)) == 1 for g in groups)
    assert len({g[0].opponent_seed for g in groups}) == 6  # different groups, different games


def test_same_seed_same_draws() -> None:
    a, b = _fixed(), _fixed()
    assert a.sample_batch(np.random.default_rng(7), 16, 2) == b.sample_batch(np.random.default_rng(7), 16, 2)
    assert a.sample_batch(np.random.default_rng(7), 16, 2) != a.sample_batch(np.random.default_rng(8), 16, 2)


def test_fixed_seat(rng: np.random.Generator) -> None:
    assert {spec.agent_seat for spec in _fixed(seat="second").sample_batch(rng, 50, 1)} == {"second"}


def test_league_snapshots_mix_with_scripted_tiers(rng: np.random.Generator) -> None:
    curriculum = _fixed()
    curriculum.add_opponent("model:runs/demo/step-200", 0.5)
    assert curriculum.snapshots() == ["model:runs/demo/step-200"]
    assert curriculum.mixture()["model:runs/demo/step-200"] == pytest.approx(0.5 / 1.5)
    specs = curriculum.sample_batch(rng, 300, 1)
    snapshot = [s for s in specs if s.tier.startswith("model:")]
    assert snapshot and snapshot[0].to_options()["opponent"]["path"] == "runs/demo/step-200"
    with pytest.raises(ArenaError, match="appears twice"):
        curriculum.add_opponent("random", 1.0)
    with pytest.raises(ArenaError, match="weights must be >= 0"):
        curriculum.add_opponent("depth-3", -1.0)
    # Snapshots can also be configured up front, next to scripted tiers.
    configured = make_curriculum({"kind": "fixed", "opponents": {"model:ckpt": 1, "perfect": 1}}, "tictactoe")
    assert isinstance(configured, FixedCurriculum) and configured.snapshots() == ["model:ckpt"]


def test_describe_is_flat_floats(rng: np.random.Generator) -> None:
    curriculum = _fixed(starts=[{"kind": "empty", "weight": 3}, {"kind": "puzzle", "puzzle": "win-in-1"}])
    curriculum.set_step(12)
    metrics = curriculum.describe()
    assert metrics["curriculum/weight/noisy-0.5"] == pytest.approx(0.4)
    assert metrics["curriculum/start/empty"] == pytest.approx(0.75)
    assert metrics["curriculum/start/win-in-1"] == pytest.approx(0.25)
    assert metrics["curriculum/step"] == 12.0
    assert all(isinstance(v, float) for v in metrics.values())


def test_bad_arguments(rng: np.random.Generator) -> None:
    curriculum = _fixed()
    with pytest.raises(ArenaError, match="group_size must be a whole number >= 1"):
        curriculum.sample_group(rng, 0)
    with pytest.raises(ArenaError, match="num_groups must be a whole number >= 1"):
        curriculum.sample_batch(rng, -1, 4)
    with pytest.raises(ArenaError, match="step is a whole number >= 0"):
        curriculum.set_step(-3)
