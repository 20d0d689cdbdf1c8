"""Curriculum configs: one pydantic model per kind (fixed, stratified, scheduled, adaptive), loadable from YAML.

Opponent mixtures are written as `{tier: weight}` (e.g. `{random: 0.3, noisy-0.5: 0.4, perfect: 0.3}`) or, for
specs a tier name cannot carry (a model snapshot with a label, noise over a depth-2 inner player), as a list of
`{opponent: <spec dict>, weight: w}` entries. Both forms validate to the same thing and dump back compactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from arena.errors import CurriculumError, OpponentSpecError
from opponents.spec import MinimaxSpec, ModelSpec, NoisySpec, PerfectSpec, RandomSpec, parse_opponent

from .episode import OpponentField, SeatChoice

Interpolation = Literal["linear", "step", "cosine"]
SampleWithin = Literal["center", "uniform"]
PuzzleKind = Literal["win-in-1", "must-block"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- opponent mixtures ---------------------------------------------------------------------------------------


class WeightedOpponent(_Frozen):
    """One entry of an opponent mixture."""

    opponent: OpponentField = Field(description="A tier name ('noisy-0.5', 'model:<path>') or an opponent spec.")
    weight: float = Field(1.0, allow_inf_nan=False, description="Relative weight (>= 0); weights are normalised.")

    @property
    def tier(self) -> str:
        return self.opponent.tier


def _coerce_mixture(value: Any) -> Any:
    if isinstance(value, str):
        return ({"opponent": value, "weight": 1.0},)
    if isinstance(value, Mapping):
        if "opponent" in value:  # a single long-form entry
            return (value,)
        return tuple({"opponent": tier, "weight": weight} for tier, weight in value.items())
    if isinstance(value, list | tuple):
        return tuple({"opponent": item, "weight": 1.0} if isinstance(item, str) else item for item in value)
    return value


def _check_weighted(items: tuple[Any, ...], label: Any, empty: str, what: str, zero: str) -> None:
    """Shared checks of a weighted list: not empty, weights >= 0, no label twice, not all weights 0."""
    if not items:
        raise ValueError(empty)
    seen: set[str] = set()
    for item in items:
        name = label(item)
        if item.weight < 0:
            raise ValueError(f"weight of {what}{name!r} is {item.weight}; weights must be >= 0")
        if name in seen:
            raise ValueError(
                f"{what or 'tier '}{name!r} appears twice{'' if what else ' in the mixture'}; merge its "
                "weights into one entry"
            )
        seen.add(name)
    if sum(item.weight for item in items) <= 0:
        raise ValueError(zero)


def check_mixture(entries: tuple[WeightedOpponent, ...]) -> tuple[WeightedOpponent, ...]:
    _check_weighted(
        entries,
        lambda entry: entry.tier,
        "the opponent mixture is empty; name at least one tier, e.g. {random: 1.0}",
        "",
        "all opponent weights are 0; give at least one tier a positive weight",
    )
    return entries


def _tier_round_trips(entry: WeightedOpponent) -> bool:
    try:
        return parse_opponent(entry.tier) == entry.opponent
    except OpponentSpecError:
        return False


def _dump_mixture(entries: tuple[WeightedOpponent, ...]) -> Any:
    # The compact {tier: weight} form whenever every tier name parses back to the same spec.
    if all(_tier_round_trips(entry) for entry in entries):
        return {entry.tier: entry.weight for entry in entries}
    return [{"opponent": entry.opponent.model_dump(mode="json"), "weight": entry.weight} for entry in entries]


#: Weights over opponents: `{tier: weight}`, a single tier name, or a list of `{opponent, weight}` entries.
Mixture = Annotated[
    tuple[WeightedOpponent, ...],
    BeforeValidator(_coerce_mixture),
    AfterValidator(check_mixture),
    PlainSerializer(_dump_mixture, return_type=Any),
]


def normalized(entries: tuple[WeightedOpponent, ...]) -> dict[str, float]:
    """A mixture as {tier: probability}, zero weights kept (so logs show every configured tier)."""
    total = sum(entry.weight for entry in entries)
    return {entry.tier: entry.weight / total for entry in entries}


# -- continuous skill ranges ---------------------------------------------------------------------------------


class SkillRange(_Frozen):
    """A continuous skill axis: random-move probability of a noisy opponent, or minimax search depth.

    For `noisy`, a higher `p` is an easier opponent; for `depth`, a higher depth is a harder one.
    """

    kind: Literal["noisy", "depth"] = Field("noisy", description="'noisy' varies p of noisy-<p>; 'depth' depth-<d>.")
    low: float = Field(allow_inf_nan=False, description="Lower end of the range (inclusive).")
    high: float = Field(allow_inf_nan=False, description="Upper end of the range (inclusive).")
    inner: OpponentField = Field(
        default_factory=PerfectSpec, description="For 'noisy': the opponent played when no random move is."
    )

    @model_validator(mode="after")
    def _check(self) -> SkillRange:
        if self.low > self.high:
            raise ValueError(f"range low={self.low} is above high={self.high}; swap them so low <= high")
        if self.kind == "noisy":
            if not (self.low >= 0.0 and self.high <= 1.0):
                raise ValueError(
                    f"noisy range [{self.low}, {self.high}] leaves [0, 1]: random-move probabilities are in [0, 1]"
                )
            if isinstance(self.inner, ModelSpec):
                raise ValueError("a noisy range needs a scripted inner opponent, not a model snapshot")
        else:
            if self.low < 1 or not float(self.low).is_integer() or not float(self.high).is_integer():
                raise ValueError(f"depth range [{self.low}, {self.high}] must be whole numbers of plies >= 1")
            if self.inner != PerfectSpec():
                raise ValueError("'inner' applies to noisy ranges only; remove it from a depth range")
        return self

    def spec_at(self, value: float) -> NoisySpec | MinimaxSpec:
        """The opponent at a point of the axis (a depth is rounded to whole plies)."""
        if self.kind == "noisy":
            return NoisySpec(p=value, inner=self.inner)
        return MinimaxSpec(depth=round(value))


def _check_buckets(skill: SkillRange, buckets: int) -> None:
    if skill.kind == "depth" and buckets > int(skill.high - skill.low) + 1:
        raise ValueError(
            f"{buckets} buckets over depths {int(skill.low)}..{int(skill.high)} would leave some empty; "
            f"use at most {int(skill.high - skill.low) + 1} buckets or widen the range"
        )


# -- start positions -----------------------------------------------------------------------------------------


class _Start(_Frozen):
    weight: float = Field(1.0, allow_inf_nan=False, description="Relative weight (>= 0) among the start kinds.")

    @property
    def label(self) -> str:
        raise NotImplementedError


def _scripted(value: Any) -> Any:
    if isinstance(value, ModelSpec):
        raise ValueError(
            "start positions are played by scripted tiers; a model snapshot cannot play them: use e.g. 'random'"
        )
    return value


ScriptedOpponent = Annotated[OpponentField, AfterValidator(_scripted)]


class EmptyStart(_Start):
    """The game's initial position."""

    kind: Literal["empty"] = "empty"

    @property
    def label(self) -> str:
        return "empty"


class OpeningStart(_Start):
    """An opening `plies` (up to `max_plies`) moves deep, both sides played by `played_by`."""

    kind: Literal["opening"] = "opening"
    plies: int = Field(ge=1, description="Moves in the opening (both sides count).")
    max_plies: int | None = Field(None, ge=1, description="If set, the depth is uniform in [plies, max_plies].")
    played_by: ScriptedOpponent = Field(default_factory=RandomSpec, description="Tier that plays the opening.")
    max_tries: int = Field(100, ge=1, description="Openings drawn before giving up on finding a playable one.")

    @model_validator(mode="after")
    def _check(self) -> OpeningStart:
        if self.max_plies is not None and self.max_plies < self.plies:
            raise ValueError(f"max_plies={self.max_plies} is below plies={self.plies}; set max_plies >= plies")
        return self

    @property
    def label(self) -> str:
        depth = f"{self.plies}" if self.max_plies in (None, self.plies) else f"{self.plies}-{self.max_plies}"
        by = "" if isinstance(self.played_by, RandomSpec) else f"({self.played_by.tier})"
        return f"opening-{depth}{by}"


class PuzzleStart(_Start):
    """A tactical position with the agent to move: 'win-in-1' (a move wins now) or 'must-block' (exactly one
    move stops the opponent from winning next turn, and none wins at once). Found by depth-2 search along
    games played by `played_by`; the agent's seat is whoever is to move there."""

    kind: Literal["puzzle"] = "puzzle"
    puzzle: PuzzleKind = Field(description="'win-in-1' or 'must-block'.")
    played_by: ScriptedOpponent = Field(default_factory=RandomSpec, description="Tier that plays the lead-up.")
    max_tries: int = Field(200, ge=1, description="Games searched for a puzzle before giving up.")

    @property
    def label(self) -> str:
        by = "" if isinstance(self.played_by, RandomSpec) else f"({self.played_by.tier})"
        return f"{self.puzzle}{by}"


StartSpec = Annotated[EmptyStart | OpeningStart | PuzzleStart, Field(discriminator="kind")]


def _check_starts(starts: tuple[Any, ...]) -> tuple[Any, ...]:
    _check_weighted(
        starts,
        lambda start: start.label,
        "'starts' is empty; leave it out for the empty board, or list at least one start kind",
        "start ",
        "all start weights are 0; give at least one start kind a positive weight",
    )
    return starts


StartMix = Annotated[tuple[StartSpec, ...], AfterValidator(_check_starts)]


# -- curricula -----------------------------------------------------------------------------------------------


class _CurriculumConfig(_Frozen):
    seat: SeatChoice = Field(
        "random", description="The agent's seat: 'first', 'second', or 'random' (drawn per episode or group)."
    )
    starts: StartMix = Field(
        default_factory=lambda: (EmptyStart(),),
        description="Start positions, mixed by weight: empty, opening (k plies) and puzzle (win-in-1, must-block).",
    )


class FixedConfig(_CurriculumConfig):
    """The same opponent mixture for the whole run."""

    kind: Literal["fixed"] = "fixed"
    opponents: Mixture = Field(description="Weights over tiers, e.g. {random: 0.3, noisy-0.5: 0.4, perfect: 0.3}.")


class StratifiedConfig(_CurriculumConfig):
    """A skill range cut into equal buckets; a batch of K groups takes one group from every bucket."""

    kind: Literal["stratified"] = "stratified"
    range: SkillRange = Field(description="The skill range, e.g. {kind: noisy, low: 0.2, high: 0.7}.")
    buckets: int = Field(ge=1, le=1000, description="Number of equal-width buckets K.")
    sample_within: SampleWithin = Field(
        "center", description="Opponent inside a bucket: its centre, or uniform in the bucket (at `resolution`)."
    )
    resolution: float = Field(
        0.01, gt=0.0, le=1.0, description="Grid of noisy p values, so envs build a bounded number of opponents."
    )

    @model_validator(mode="after")
    def _check(self) -> StratifiedConfig:
        _check_buckets(self.range, self.buckets)
        return self


class Waypoint(_Frozen):
    """The mixture (or range) in force at one training step."""

    step: int = Field(ge=0, description="Training step at which this waypoint holds exactly.")
    opponents: Mixture | None = Field(None, description="Weights over tiers at this step.")
    range: SkillRange | None = Field(None, description="Or: a skill range at this step (stratified in buckets).")

    @model_validator(mode="after")
    def _check(self) -> Waypoint:
        if (self.opponents is None) == (self.range is None):
            raise ValueError(f"waypoint at step {self.step} needs exactly one of 'opponents' or 'range'")
        return self


class ScheduledConfig(_CurriculumConfig):
    """Mixtures or ranges interpolated over training steps between waypoints."""

    kind: Literal["scheduled"] = "scheduled"
    waypoints: tuple[Waypoint, ...] = Field(min_length=2, description="At least two waypoints, steps ascending.")
    interpolation: Interpolation = Field(
        "linear", description="'linear', 'cosine' (eased) or 'step' (hold each waypoint until the next)."
    )
    buckets: int = Field(1, ge=1, le=1000, description="For range waypoints: buckets of the current range.")
    sample_within: SampleWithin = Field("center", description="For range waypoints: bucket centre or uniform.")
    resolution: float = Field(0.01, gt=0.0, le=1.0, description="For range waypoints: grid of noisy p values.")

    @model_validator(mode="after")
    def _check(self) -> ScheduledConfig:
        steps = [w.step for w in self.waypoints]
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError(f"waypoint steps {steps} must be strictly increasing; sort them and drop duplicates")
        ranges = [w.range for w in self.waypoints if w.range is not None]
        if ranges and len(ranges) != len(self.waypoints):
            raise ValueError("waypoints mix 'opponents' and 'range'; use one form for every waypoint")
        if ranges:
            first = ranges[0]
            for r in ranges[1:]:
                if (r.kind, r.inner) != (first.kind, first.inner):
                    raise ValueError(
                        f"range waypoints must share kind and inner opponent, got {first.kind}/{first.inner.tier} "
                        f"and {r.kind}/{r.inner.tier}"
                    )
            for r in ranges:
                _check_buckets(r, self.buckets)
        elif self.buckets != 1:
            raise ValueError("'buckets' applies to range waypoints only; remove it or give waypoints ranges")
        return self


class AdaptiveConfig(_CurriculumConfig):
    """Levels of opponent mixtures, easiest first; the window score moves the run up or down one level."""

    kind: Literal["adaptive"] = "adaptive"
    levels: tuple[Mixture, ...] = Field(min_length=2, description="Opponent mixtures from easiest to hardest.")
    start_level: int = Field(0, ge=0, description="Index of the level to begin at.")
    window: int = Field(200, ge=1, description="Recent games the score is averaged over (win 1, draw 0.5).")
    min_games: int = Field(100, ge=1, description="Games since the last move (and in the window) before a move.")
    lower: float = Field(0.3, ge=0.0, le=1.0, description="Below this score, move to an easier level.")
    upper: float = Field(0.7, ge=0.0, le=1.0, description="Above this score, move to a harder level.")

    @model_validator(mode="after")
    def _check(self) -> AdaptiveConfig:
        if self.lower >= self.upper:
            raise ValueError(
                f"lower={self.lower} must be below upper={self.upper}; the gap between them is the hysteresis "
                "that stops the level from oscillating"
            )
        if self.start_level >= len(self.levels):
            raise ValueError(
                f"start_level={self.start_level} but there are {len(self.levels)} levels; use 0..{len(self.levels) - 1}"
            )
        if self.min_games > self.window:
            raise ValueError(
                f"min_games={self.min_games} exceeds window={self.window}: the score could never see that many "
                "games; lower min_games or widen the window"
            )
        return self


CurriculumConfig = Annotated[
    FixedConfig | StratifiedConfig | ScheduledConfig | AdaptiveConfig, Field(discriminator="kind")
]
CONFIG_KINDS: dict[str, type[FixedConfig | StratifiedConfig | ScheduledConfig | AdaptiveConfig]] = {
    "fixed": FixedConfig,
    "stratified": StratifiedConfig,
    "scheduled": ScheduledConfig,
    "adaptive": AdaptiveConfig,
}


def parse_config(
    data: Mapping[str, Any] | BaseModel,
) -> FixedConfig | StratifiedConfig | ScheduledConfig | AdaptiveConfig:
    """A curriculum config from a dict (as loaded from YAML) or a config; errors say which field to fix."""
    if isinstance(data, FixedConfig | StratifiedConfig | ScheduledConfig | AdaptiveConfig):
        return data
    if not isinstance(data, Mapping):
        raise CurriculumError(f"a curriculum config is a mapping with a 'kind' key, not {type(data).__name__}")
    kinds = ", ".join(CONFIG_KINDS)
    if "kind" not in data:
        raise CurriculumError(f"curriculum config lacks 'kind'; set kind to one of {kinds}")
    cls = CONFIG_KINDS.get(data["kind"])
    if cls is None:
        raise CurriculumError(f"unknown curriculum kind {data['kind']!r}; use one of {kinds}")
    try:
        # Validating against the one class (not the union) keeps pydantic's message short and about that kind.
        return cls.model_validate(dict(data))
    except ValidationError as exc:
        raise CurriculumError(f"invalid {data['kind']} curriculum config: {exc}") from exc


def config_from_yaml(text: str) -> FixedConfig | StratifiedConfig | ScheduledConfig | AdaptiveConfig:
    """Parse YAML text into a curriculum config."""
    data = yaml.safe_load(text)
    if data is None:
        raise CurriculumError("the curriculum YAML is empty; it needs at least 'kind' and that kind's fields")
    return parse_config(data)


def load_config(path: str | Path) -> FixedConfig | StratifiedConfig | ScheduledConfig | AdaptiveConfig:
    """Read a curriculum config from a YAML file."""
    return config_from_yaml(Path(path).read_text(encoding="utf-8"))


def config_to_yaml(config: BaseModel) -> str:
    """YAML text that `config_from_yaml` turns back into an equal config."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
