"""Sampling temperature over training: a schedule, plus an optional plateau-triggered "wander" phase.

Practice: raising the temperature a little after reward plateaus gives a dip and then new highs; too high
and the answer format collapses, so the wander phase is capped and steps back down once reward recovers.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from curricula.scheduled import segment

from .config import ExplorationSection


class Exploration:
    """Tracks reward per step and answers the temperature to sample with at each step."""

    def __init__(self, config: ExplorationSection) -> None:
        self.config = config
        self.boost = 0.0  # added by the wander phase
        self.best = -math.inf
        self.since_best = 0
        self.recent: deque[float] = deque(maxlen=config.wander.smoothing)
        self.events: list[dict[str, Any]] = []

    def scheduled(self, step: int) -> float:
        if not self.config.schedule:
            return self.config.temperature
        a, b, t = segment(self.config.schedule, step, self.config.interpolation)
        return a.temperature + t * (b.temperature - a.temperature)

    def temperature(self, step: int) -> float:
        base = self.scheduled(step)
        if not self.config.wander.enabled:
            return base
        return min(self.config.wander.cap, base + self.boost)

    def observe(self, step: int, reward: float) -> None:
        """Record one step's mean reward; may start, raise or end a wander phase."""
        wander = self.config.wander
        if not wander.enabled:
            return
        self.recent.append(reward)
        smoothed = sum(self.recent) / len(self.recent)
        if smoothed > self.best + wander.min_delta:
            self.best, self.since_best = smoothed, 0
            if self.boost > 0:  # recovered to a new high: step back down toward the schedule
                self.boost = max(0.0, self.boost - wander.step)
                self.events.append({"step": step, "event": "cool", "boost": self.boost})
            return
        self.since_best += 1
        if self.since_best >= wander.patience:
            self.since_best = 0
            new = min(wander.cap - self.scheduled(step), self.boost + wander.step)
            if new > self.boost:
                self.boost = new
                self.events.append({"step": step, "event": "wander", "boost": self.boost})

    def state_dict(self) -> dict[str, Any]:
        return {
            "boost": self.boost,
            "best": self.best if math.isfinite(self.best) else None,
            "since_best": self.since_best,
            "recent": list(self.recent),
            "events": list(self.events),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.boost = float(state["boost"])
        self.best = -math.inf if state["best"] is None else float(state["best"])
        self.since_best = int(state["since_best"])
        self.recent = deque(state["recent"], maxlen=self.config.wander.smoothing)
        self.events = list(state["events"])
