"""A fixed opponent mixture, e.g. 30% random, 40% noisy-0.5, 30% perfect, with a hook for adding snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from arena.errors import CurriculumError
from arena.games.base import Game
from opponents.spec import ModelSpec

from .base import Categorical, Curriculum, Stratum
from .config import FixedConfig, WeightedOpponent, check_mixture


class FixedCurriculum(Curriculum):
    """Every episode's opponent drawn from the same weights over tiers.

    League play: `add_opponent("model:runs/x/step-500", 0.2)` mixes a frozen snapshot in from then on; the
    added entries are part of `state_dict()`, so a resumed run keeps its league.
    """

    kind = "fixed"
    config: FixedConfig

    def __init__(self, config: FixedConfig, game: Game[Any]) -> None:
        super().__init__(config, game)
        self._added: list[WeightedOpponent] = []

    @property
    def opponents(self) -> tuple[WeightedOpponent, ...]:
        """The configured mixture plus any opponents added since."""
        return self.config.opponents + tuple(self._added)

    def add_opponent(self, opponent: Any, weight: float) -> None:
        """Mix in another opponent (typically a `model:<path>` snapshot) with relative `weight`."""
        try:
            entry = WeightedOpponent(opponent=opponent, weight=weight)
            check_mixture(self.opponents + (entry,))
        except (ValidationError, ValueError) as exc:
            raise CurriculumError(f"cannot add opponent {opponent!r} with weight {weight}: {exc}") from exc
        self._added.append(entry)

    def snapshots(self) -> list[str]:
        """Tier names of the model snapshots in the mixture."""
        return [e.tier for e in self.opponents if isinstance(e.opponent, ModelSpec)]

    def strata_at(self, step: int) -> list[Stratum]:
        return [Categorical(self.opponents)]

    def _extra_state(self) -> dict[str, Any]:
        return {"added": [{"opponent": e.opponent.model_dump(mode="json"), "weight": e.weight} for e in self._added]}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self._added = []
        for entry in state.get("added", []):
            self.add_opponent(entry["opponent"], entry["weight"])
