"""Stratified buckets: a skill range cut into K buckets, every batch of K groups covering every bucket."""

from __future__ import annotations

from typing import Any

from arena.games.base import Game

from .base import Curriculum, RangeBucket, Stratum, range_buckets
from .config import StratifiedConfig


class StratifiedCurriculum(Curriculum):
    """E.g. random-move probability in [0.2, 0.7] in 5 buckets: a batch of 5 groups (or any multiple) has one
    group (or as many) per bucket; the remainder of an uneven batch goes to distinct random buckets; a single
    `sample()` picks a bucket uniformly."""

    kind = "stratified"
    config: StratifiedConfig

    def __init__(self, config: StratifiedConfig, game: Game[Any]) -> None:
        super().__init__(config, game)
        self.buckets: list[RangeBucket] = range_buckets(
            config.range, config.buckets, config.sample_within, config.resolution
        )

    def strata_at(self, step: int) -> list[Stratum]:
        return list(self.buckets)

    def describe(self) -> dict[str, float]:
        return {
            **super().describe(),
            "curriculum/range/low": self.config.range.low,
            "curriculum/range/high": self.config.range.high,
        }
