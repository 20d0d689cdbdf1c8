"""Scheduled curricula hit their waypoints and interpolate between them."""

from __future__ import annotations

import numpy as np
import pytest

from curricula import ScheduledCurriculum, make_curriculum
from curricula.scheduled import ease

WAYPOINTS = [
    {"step": 100, "opponents": {"random": 1.0}},
    {"step": 300, "opponents": {"random": 1.0, "perfect": 3.0}},
    {"step": 500, "opponents": {"perfect": 1.0}},
]


def _scheduled(interpolation: str = "linear", waypoints: list | None = None, **fields: object) -> ScheduledCurriculum:
    config = {"kind": "scheduled", "interpolation": interpolation, "waypoints": waypoints or WAYPOINTS, **fields}
    curriculum = make_curriculum(config, "tictactoe")
    assert isinstance(curriculum, ScheduledCurriculum)
    return curriculum


def _p(curriculum: ScheduledCurriculum, step: int, tier: str) -> float:
    return curriculum.mixture_at(step).get(tier, 0.0)


@pytest.mark.parametrize("interpolation", ["linear", "cosine", "step"])
def test_waypoints_hold_exactly(interpolation: str) -> None:
    curriculum = _scheduled(interpolation)
    assert _p(curriculum, 100, "random") == pytest.approx(1.0)
    assert _p(curriculum, 300, "perfect") == pytest.approx(0.75)
    assert _p(curriculum, 300, "random") == pytest.approx(0.25)
    assert _p(curriculum, 500, "perfect") == pytest.approx(1.0)
    assert _p(curriculum, 0, "random") == pytest.approx(1.0)  # before the first waypoint
    assert _p(curriculum, 10_000, "perfect") == pytest.approx(1.0)  # after the last


def test_interpolations_between_waypoints() -> None:
    assert _p(_scheduled("linear"), 200, "perfect") == pytest.approx(0.375)
    assert _p(_scheduled("linear"), 150, "perfect") == pytest.approx(0.1875)
    assert _p(_scheduled("cosine"), 200, "perfect") == pytest.approx(0.375)  # the midpoint of an easing
    assert _p(_scheduled("cosine"), 150, "perfect") == pytest.approx(0.75 * (1 - np.cos(np.pi / 4)) / 2)
    assert _p(_scheduled("step"), 299, "perfect") == 0.0
    assert _p(_scheduled("step"), 499, "perfect") == pytest.approx(0.75)
    assert ease(0.0, "cosine") == 0.0 and ease(1.0, "cosine") == pytest.approx(1.0)


def test_sampling_follows_the_step(rng: np.random.Generator) -> None:
    curriculum = _scheduled()
    curriculum.set_step(100)
    assert {s.tier for s in curriculum.sample_batch(rng, 50, 1)} == {"random"}
    curriculum.set_step(500)
    assert {s.tier for s in curriculum.sample_batch(rng, 50, 1)} == {"perfect"}
    curriculum.set_step(300)
    share = sum(s.tier == "perfect" for s in curriculum.sample_batch(rng, 4000, 1)) / 4000
    assert abs(share - 0.75) < 5 * (0.75 * 0.25 / 4000) ** 0.5
    assert curriculum.describe()["curriculum/weight/perfect"] == pytest.approx(0.75)


def test_range_schedules_hit_their_waypoints(rng: np.random.Generator) -> None:
    waypoints = [{"step": 0, "range": {"low": 0.6, "high": 0.9}}, {"step": 1000, "range": {"low": 0.0, "high": 0.3}}]
    curriculum = _scheduled("linear", waypoints, buckets=3)
    for step, (low, high) in {0: (0.6, 0.9), 500: (0.3, 0.6), 1000: (0.0, 0.3), 2000: (0.0, 0.3)}.items():
        skill = curriculum.range_at(step)
        assert skill is not None and (skill.low, skill.high) == pytest.approx((low, high))
    assert list(curriculum.mixture_at(0)) == ["noisy-0.65", "noisy-0.75", "noisy-0.85"]
    assert list(curriculum.mixture_at(1000)) == ["noisy-0.05", "noisy-0.15", "noisy-0.25"]
    curriculum.set_step(500)
    batch = curriculum.sample_batch(rng, 3, 2)
    assert sorted(batch[i].tier for i in (0, 2, 4)) == ["noisy-0.35", "noisy-0.45", "noisy-0.55"]
    assert curriculum.describe()["curriculum/range/low"] == pytest.approx(0.3)


def test_depth_range_schedules_keep_whole_depths() -> None:
    waypoints = [
        {"step": 0, "range": {"kind": "depth", "low": 1, "high": 2}},
        {"step": 10, "range": {"kind": "depth", "low": 4, "high": 6}},
    ]
    curriculum = _scheduled("linear", waypoints, buckets=2)
    for step in range(0, 12):
        skill = curriculum.range_at(step)
        assert skill is not None and skill.low.is_integer() and skill.high - skill.low >= 1
    assert list(curriculum.mixture_at(10)) == ["depth-4", "depth-6"]  # buckets 4-5 and 6
