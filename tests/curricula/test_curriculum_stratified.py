"""Stratified buckets: every batch covers every bucket."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from curricula import StratifiedCurriculum, make_curriculum
from opponents import MinimaxSpec, NoisySpec


def _stratified(**fields: object) -> StratifiedCurriculum:
    config = {"kind": "stratified", "range": {"low": 0.2, "high": 0.7}, "buckets": 5, **fields}
    curriculum = make_curriculum(config, "tictactoe")
    assert isinstance(curriculum, StratifiedCurriculum)
    return curriculum


def test_bucket_centres() -> None:
    curriculum = _stratified()
    assert list(curriculum.mixture()) == ["noisy-0.25", "noisy-0.35", "noisy-0.45", "noisy-0.55", "noisy-0.65"]
    assert sum(curriculum.mixture().values()) == pytest.approx(1.0)


def test_every_batch_covers_every_bucket(rng: np.random.Generator) -> None:
    curriculum = _stratified()
    for _ in range(50):
        batch = curriculum.sample_batch(rng, 5, 4)
        tiers = [batch[i].tier for i in range(0, 20, 4)]
        assert sorted(tiers) == sorted(curriculum.mixture())
    counts = Counter(spec.tier for spec in curriculum.sample_batch(rng, 15, 1))
    assert set(counts.values()) == {3}


def test_uneven_batches_put_the_remainder_in_distinct_buckets(rng: np.random.Generator) -> None:
    curriculum = _stratified()
    for _ in range(30):
        counts = Counter(spec.tier for spec in curriculum.sample_batch(rng, 7, 1))
        assert len(counts) == 5 and sorted(counts.values()) == [1, 1, 1, 2, 2]


def test_uniform_draws_stay_inside_their_bucket(rng: np.random.Generator) -> None:
    curriculum = _stratified(sample_within="uniform", resolution=0.01)
    edges = np.linspace(0.2, 0.7, 6)
    for _ in range(40):
        batch = curriculum.sample_batch(rng, 5, 1)
        for spec, low, high in zip(batch, edges, edges[1:], strict=False):
            assert isinstance(spec.opponent, NoisySpec)
            assert low - 1e-9 <= spec.opponent.p <= high + 1e-9
            assert spec.opponent.p == round(spec.opponent.p, 2)  # on the grid: the env builds few opponents
    assert "curriculum/weight/noisy-0.2..0.3" in curriculum.describe()


def test_depth_ranges_use_whole_depths(rng: np.random.Generator) -> None:
    config = {"kind": "stratified", "range": {"kind": "depth", "low": 1, "high": 6}, "buckets": 3}
    curriculum = make_curriculum({**config, "sample_within": "uniform"}, "connect_four")
    assert isinstance(curriculum, StratifiedCurriculum)
    assert [(b.low, b.high) for b in curriculum.buckets] == [(1, 2), (3, 4), (5, 6)]
    for _ in range(20):
        batch = curriculum.sample_batch(rng, 3, 1)
        depths = [spec.opponent.depth for spec in batch if isinstance(spec.opponent, MinimaxSpec)]
        assert [(d - 1) // 2 for d in depths] == [0, 1, 2]
    centred = make_curriculum(config, "connect_four")
    assert list(centred.mixture()) == ["depth-1", "depth-3", "depth-5"]


def test_single_samples_pick_buckets_uniformly(rng: np.random.Generator) -> None:
    curriculum = _stratified()
    counts = Counter(curriculum.sample(rng).tier for _ in range(2500))
    assert all(abs(c / 2500 - 0.2) < 0.05 for c in counts.values()) and len(counts) == 5
