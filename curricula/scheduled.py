"""Scheduled curricula: opponent mixtures or skill ranges interpolated over training steps between waypoints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from arena.games.base import Game

from .base import Categorical, Curriculum, Stratum, range_buckets
from .config import Interpolation, ScheduledConfig, SkillRange, Waypoint, WeightedOpponent, normalized


class _Stepped(Protocol):
    @property
    def step(self) -> int: ...


P = TypeVar("P", bound=_Stepped)


def ease(x: float, interpolation: Interpolation) -> float:
    """How far (0..1) between two waypoints a fraction `x` of the way there has moved."""
    if interpolation == "step":
        return 1.0 if x >= 1.0 else 0.0
    if interpolation == "cosine":
        return (1.0 - math.cos(math.pi * x)) / 2.0
    return x


def segment(points: Sequence[P], step: int, interpolation: Interpolation) -> tuple[P, P, float]:
    """The waypoints around `step` (anything with a `.step`, strictly increasing) and how far (eased, 0..1) a
    schedule has moved from one to the other: before the first the first holds, after the last the last, and each
    holds exactly at its step. Curricula and the exploration temperature schedule share it."""
    if step <= points[0].step:
        return points[0], points[0], 0.0
    if step >= points[-1].step:
        return points[-1], points[-1], 0.0
    for a, b in zip(points, points[1:], strict=False):
        if a.step <= step < b.step:
            return a, b, ease((step - a.step) / (b.step - a.step), interpolation)
    raise AssertionError("unreachable: waypoint steps are strictly increasing")  # pragma: no cover


class ScheduledCurriculum(Curriculum):
    """Before the first waypoint the first holds, after the last the last; in between, each waypoint holds
    exactly at its step and the mixture (weights normalised first) or range moves toward the next one."""

    kind = "scheduled"
    config: ScheduledConfig

    def __init__(self, config: ScheduledConfig, game: Game[Any]) -> None:
        super().__init__(config, game)
        self.waypoints: tuple[Waypoint, ...] = config.waypoints

    def segment(self, step: int) -> tuple[Waypoint, Waypoint, float]:
        """The waypoints around `step` and how far (eased, 0..1) the schedule has moved from one to the other."""
        return segment(self.waypoints, step, self.config.interpolation)

    def range_at(self, step: int) -> SkillRange | None:
        """The skill range in force at `step` (None for mixture waypoints)."""
        a, b, t = self.segment(step)
        if a.range is None or b.range is None:
            return None
        low = (1 - t) * a.range.low + t * b.range.low
        high = (1 - t) * a.range.high + t * b.range.high
        if a.range.kind == "depth":
            # Whole depths, wide enough for every bucket to hold one.
            low = float(math.floor(low + 0.5))
            high = max(float(math.floor(high + 0.5)), low + self.config.buckets - 1)
        else:
            low, high = max(0.0, min(1.0, low)), max(0.0, min(1.0, high))
        return a.range.model_copy(update={"low": low, "high": max(low, high)})

    def opponents_at(self, step: int) -> tuple[WeightedOpponent, ...] | None:
        """The interpolated mixture at `step` (None for range waypoints); tiers of either waypoint kept."""
        a, b, t = self.segment(step)
        if a.opponents is None or b.opponents is None:
            return None
        pa, pb = normalized(a.opponents), normalized(b.opponents)
        specs = {e.tier: e.opponent for e in a.opponents + b.opponents}
        return tuple(
            WeightedOpponent(opponent=spec, weight=(1 - t) * pa.get(tier, 0.0) + t * pb.get(tier, 0.0))
            for tier, spec in specs.items()
        )

    def strata_at(self, step: int) -> list[Stratum]:
        opponents = self.opponents_at(step)
        if opponents is not None:
            return [Categorical(opponents)]
        skill = self.range_at(step)
        if skill is None:  # pragma: no cover - the config guarantees one form or the other
            raise AssertionError("a waypoint has neither opponents nor range")
        return list(range_buckets(skill, self.config.buckets, self.config.sample_within, self.config.resolution))

    def describe(self) -> dict[str, float]:
        metrics = super().describe()
        skill = self.range_at(self._step)
        if skill is not None:
            metrics.update({"curriculum/range/low": skill.low, "curriculum/range/high": skill.high})
        return metrics
