"""The curriculum protocol: draw episode specs (singly, in GRPO groups, in stratified batches), take results back.

A curriculum's opponent plan at a step is a list of strata: a batch of K groups draws one group from each of
K strata, so a stratified curriculum covers every level in every batch; a plain mixture is a single stratum.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from arena.errors import CurriculumError
from arena.games.base import Game
from arena.outcome import Outcome
from opponents.spec import OpponentSpec

from .config import SampleWithin, SkillRange, WeightedOpponent
from .episode import SEED_BOUND, EpisodeSeat, EpisodeSpec, GameResult
from .starts import StartSampler

STATE_VERSION = 1
_SEATS: tuple[EpisodeSeat, EpisodeSeat] = ("first", "second")


# -- strata --------------------------------------------------------------------------------------------------


class Stratum(ABC):
    """One cell of a batch plan: a distribution over opponent specs."""

    @abstractmethod
    def draw(self, rng: np.random.Generator) -> OpponentSpec:
        """One opponent spec."""

    @abstractmethod
    def weights(self) -> dict[str, float]:
        """{label: probability} for logging and charts (a tier name, or a range label for uniform buckets)."""


class Categorical(Stratum):
    """Opponents drawn in proportion to their weights."""

    def __init__(self, entries: Iterable[WeightedOpponent]) -> None:
        entries = tuple(entries)
        self.specs = tuple(entry.opponent for entry in entries)
        weights = np.array([entry.weight for entry in entries], dtype=float)
        self.probabilities = weights / weights.sum()

    def draw(self, rng: np.random.Generator) -> OpponentSpec:
        return self.specs[int(rng.choice(len(self.specs), p=self.probabilities))]

    def weights(self) -> dict[str, float]:
        return {spec.tier: float(p) for spec, p in zip(self.specs, self.probabilities, strict=True)}


def _quantize(value: float, resolution: float) -> float:
    # Rounded twice: to the grid, then to 10 decimals, so 0.35000000000000003 names the tier 'noisy-0.35'.
    return round(round(value / resolution) * resolution, 10)


class RangeBucket(Stratum):
    """A bucket [low, high] of a skill axis: its centre, or a uniform point on the `resolution` grid."""

    def __init__(self, skill: SkillRange, low: float, high: float, within: SampleWithin, resolution: float) -> None:
        self.skill, self.low, self.high, self.within, self.resolution = skill, low, high, within, resolution

    def centre(self) -> float:
        if self.skill.kind == "depth":
            return float((int(self.low) + int(self.high)) // 2)
        return min(1.0, max(0.0, _quantize((self.low + self.high) / 2, self.resolution)))

    def draw(self, rng: np.random.Generator) -> OpponentSpec:
        if self.within == "center":
            return self.skill.spec_at(self.centre())
        if self.skill.kind == "depth":
            return self.skill.spec_at(float(rng.integers(int(self.low), int(self.high) + 1)))
        value = _quantize(float(rng.uniform(self.low, self.high)), self.resolution)
        return self.skill.spec_at(min(self.high, max(self.low, value)))

    def label(self) -> str:
        if self.within == "center" or self.low == self.high:
            return self.skill.spec_at(self.centre()).tier
        prefix = "noisy" if self.skill.kind == "noisy" else "depth"
        return f"{prefix}-{self.low:g}..{self.high:g}"

    def weights(self) -> dict[str, float]:
        return {self.label(): 1.0}


def range_buckets(skill: SkillRange, buckets: int, within: SampleWithin, resolution: float) -> list[RangeBucket]:
    """`skill` cut into `buckets` equal parts (whole depths for a depth range), lowest first."""
    if skill.kind == "depth":
        chunks = np.array_split(np.arange(int(skill.low), int(skill.high) + 1), buckets)
        return [RangeBucket(skill, float(c[0]), float(c[-1]), within, resolution) for c in chunks]
    edges = np.linspace(skill.low, skill.high, buckets + 1)
    return [RangeBucket(skill, float(a), float(b), within, resolution) for a, b in zip(edges, edges[1:], strict=False)]


def allocate(rng: np.random.Generator, strata: int, groups: int) -> list[int]:
    """Stratum index of each of `groups` groups: every stratum `groups // strata` times, the remainder in
    distinct strata drawn at random. Draws nothing when the split is even."""
    counts = np.full(strata, groups // strata)
    remainder = groups % strata
    if remainder:
        counts[rng.choice(strata, size=remainder, replace=False)] += 1
    return [index for index, count in enumerate(counts) for _ in range(int(count))]


# -- the protocol ----------------------------------------------------------------------------------------------


class Curriculum(ABC):
    """Decides each episode's opponent, seat, start position and opponent seed.

    Randomness comes only from the generator passed to the `sample*` methods; the caller owns it (pass it to
    `state_dict`/`load_state_dict` to save and restore it alongside). The training loop advances the step
    with `set_step(global_step)` before sampling a batch (scheduled curricula read it; adaptive ones log
    their level changes with it), and reports finished games with `update(results)`.
    """

    kind: ClassVar[str]

    def __init__(self, config: Any, game: Game[Any]) -> None:
        self.config = config
        self.game = game
        self._step = 0
        self.games_seen = 0
        self.starts = StartSampler(game, config.starts)

    # -- the step ------------------------------------------------------------------------------------------

    @property
    def step(self) -> int:
        """The training step the curriculum is at (set by the training loop)."""
        return self._step

    def set_step(self, step: int) -> None:
        """Move to training step `step` (any step >= 0; a resumed run sets its restored step)."""
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
            raise CurriculumError(f"the curriculum step is a whole number >= 0, got {step!r}")
        self._step = int(step)

    # -- the plan ------------------------------------------------------------------------------------------

    @abstractmethod
    def strata_at(self, step: int) -> list[Stratum]:
        """The opponent plan in force at training `step`."""

    def strata(self) -> list[Stratum]:
        """The opponent plan in force now."""
        return self.strata_at(self._step)

    def mixture_at(self, step: int) -> dict[str, float]:
        """{tier or bucket label: probability} of a single draw at `step`; sums to 1."""
        strata = self.strata_at(step)
        mixture: dict[str, float] = {}
        for stratum in strata:
            for label, p in stratum.weights().items():
                mixture[label] = mixture.get(label, 0.0) + p / len(strata)
        return mixture

    def mixture(self) -> dict[str, float]:
        """The opponent mixture in force now."""
        return self.mixture_at(self._step)

    # -- sampling ------------------------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> EpisodeSpec:
        """One episode spec."""
        return self.sample_batch(rng, 1, 1)[0]

    def sample_group(self, rng: np.random.Generator, group_size: int) -> list[EpisodeSpec]:
        """`group_size` identical specs: one GRPO group plays the same game."""
        return self.sample_batch(rng, 1, group_size)

    def sample_batch(self, rng: np.random.Generator, num_groups: int, group_size: int) -> list[EpisodeSpec]:
        """`num_groups` groups of `group_size` identical specs, flat and contiguous (spec i is in group
        i // group_size). Groups are spread evenly over the strata: a batch of K groups over K buckets
        draws one group from every bucket."""
        for name, value in (("num_groups", num_groups), ("group_size", group_size)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise CurriculumError(f"{name} must be a whole number >= 1, got {value!r}")
        strata = self.strata()
        specs: list[EpisodeSpec] = []
        for index in allocate(rng, len(strata), int(num_groups)):
            specs.extend([self._episode(rng, strata[index])] * int(group_size))
        return specs

    def _episode(self, rng: np.random.Generator, stratum: Stratum) -> EpisodeSpec:
        # A fixed order of draws (opponent, seat, start, seed) keeps the stream reproducible.
        opponent = stratum.draw(rng)
        seat: EpisodeSeat = self.config.seat if self.config.seat != "random" else _SEATS[int(rng.integers(2))]
        start, seat = self.starts.sample(rng, seat)
        seed = int(rng.integers(SEED_BOUND))
        return EpisodeSpec(opponent=opponent, agent_seat=seat, start=start, opponent_seed=seed)

    # -- feedback ------------------------------------------------------------------------------------------

    def update(self, results: Iterable[GameResult | Outcome | Mapping[str, Any]]) -> None:
        """Report finished games (results, the env's outcomes, or its final info dicts); call once per batch."""
        records = [
            r if isinstance(r, GameResult) else GameResult.of(r) if isinstance(r, Outcome) else GameResult.from_info(r)
            for r in results
        ]
        self.games_seen += len(records)
        self._observe(records)

    def _observe(self, results: list[GameResult]) -> None:  # noqa: B027 - an optional hook, empty by default
        """React to a batch of results (adaptive curricula move levels here)."""

    # -- logging -------------------------------------------------------------------------------------------

    def describe(self) -> dict[str, float]:
        """Flat metrics: `curriculum/weight/<tier>`, `curriculum/start/<kind>`, the step and games seen."""
        metrics = {"curriculum/step": float(self._step), "curriculum/games": float(self.games_seen)}
        metrics.update({f"curriculum/weight/{label}": p for label, p in self.mixture().items()})
        metrics.update({f"curriculum/start/{label}": p for label, p in self.starts.weights().items()})
        return metrics

    # -- checkpoints ---------------------------------------------------------------------------------------

    def state_dict(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Everything needed to resume exactly (plain JSON values); with `rng`, its bit-generator state too."""
        state: dict[str, Any] = {
            "kind": self.kind,
            "version": STATE_VERSION,
            "step": self._step,
            "games_seen": self.games_seen,
            **self._extra_state(),
        }
        if rng is not None:
            state["rng"] = rng.bit_generator.state
        return state

    def load_state_dict(self, state: Mapping[str, Any], rng: np.random.Generator | None = None) -> None:
        """Resume from `state_dict()`'s output; with `rng`, restore its bit-generator state if one was saved."""
        if state.get("kind") != self.kind:
            raise CurriculumError(
                f"this state is from a {state.get('kind')!r} curriculum; load it into a {self.kind!r} one"
            )
        if state.get("version") != STATE_VERSION:
            raise CurriculumError(f"curriculum state version {state.get('version')!r} is not {STATE_VERSION}")
        self.set_step(state["step"])
        self.games_seen = int(state["games_seen"])
        self._load_extra_state(state)
        if rng is not None and "rng" in state:
            rng.bit_generator.state = state["rng"]

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore what `_extra_state` saved."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(game={self.game.name!r}, step={self._step})"
