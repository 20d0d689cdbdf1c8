"""Adaptive curricula: a window score moves the run to a harder or easier opponent mix, with hysteresis."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from arena.errors import CurriculumError
from arena.games.base import Game

from .base import Categorical, Curriculum, Stratum
from .config import AdaptiveConfig
from .episode import GameResult


class AdaptiveCurriculum(Curriculum):
    """Levels of opponent mixtures, easiest first, that keep the model where it both wins and loses.

    Each game scores 1 (win), 0.5 (draw) or 0 (loss or truncated). After each `update()` call, once at least
    `min_games` games have arrived since the last move, the mean over the last `window` games decides: above
    `upper` one level harder, below `lower` one level easier. A move empties the window, so the next one is
    judged only on games against the new mix. The gap between the bounds and that minimum are the hysteresis:
    a score hovering mid-range never moves the level.

    Results are judged per `update()` call, so report each batch as one call: results of games sampled before
    a move then never count toward the next level.
    """

    kind = "adaptive"
    config: AdaptiveConfig

    def __init__(self, config: AdaptiveConfig, game: Game[Any]) -> None:
        super().__init__(config, game)
        self.level = config.start_level
        self._window: deque[float] = deque(maxlen=config.window)
        self._since_move = 0
        #: Every level change: {"step", "level" (the new one), "score" (that triggered it)}.
        self.history: list[dict[str, Any]] = []

    @property
    def num_levels(self) -> int:
        return len(self.config.levels)

    @property
    def score(self) -> float | None:
        """Mean score over the window, or None before any game since the last move."""
        return sum(self._window) / len(self._window) if self._window else None

    def level_at(self, step: int) -> int:
        """The level in force at `step`, from the history of moves (for charts of past steps)."""
        level = self.config.start_level
        for move in self.history:
            if move["step"] <= step:
                level = move["level"]
        return level

    def strata_at(self, step: int) -> list[Stratum]:
        return [Categorical(self.config.levels[self.level_at(step)])]

    def strata(self) -> list[Stratum]:
        # The current level, even if the training loop never advanced the step.
        return [Categorical(self.config.levels[self.level])]

    def _observe(self, results: list[GameResult]) -> None:
        for result in results:
            self._window.append(result.score)
        self._since_move += len(results)
        if self._since_move < self.config.min_games:
            return
        score = self.score
        if score is None:
            return
        if score > self.config.upper and self.level < self.num_levels - 1:
            self._move(self.level + 1, score)
        elif score < self.config.lower and self.level > 0:
            self._move(self.level - 1, score)

    def _move(self, level: int, score: float) -> None:
        self.history.append({"step": self._step, "level": level, "score": score})
        self.level = level
        self._window.clear()
        self._since_move = 0

    def describe(self) -> dict[str, float]:
        metrics = {
            **super().describe(),
            "curriculum/level": float(self.level),
            "curriculum/window_games": float(len(self._window)),
            "curriculum/level_moves": float(len(self.history)),
        }
        if self.score is not None:
            metrics["curriculum/score"] = self.score
        return metrics

    def _extra_state(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "window": list(self._window),
            "since_move": self._since_move,
            "history": [dict(move) for move in self.history],
        }

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        level = int(state["level"])
        if not 0 <= level < self.num_levels:
            raise CurriculumError(
                f"saved level {level} does not exist in this config ({self.num_levels} levels); resume with the "
                "config the state was saved under"
            )
        self.level = level
        self._window = deque((float(s) for s in state["window"]), maxlen=self.config.window)
        self._since_move = int(state["since_move"])
        self.history = [dict(move) for move in state["history"]]
