"""Opponent specifications: tier names ("random", "noisy-0.3", "depth-2", "perfect") and their pydantic form."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from arena.errors import MissingExtraError, OpponentSpecError
from arena.games.base import Game
from arena.games.registry import GameSpec, get_spec, list_games, resolve

from .base import NoisyOpponent, Opponent, RandomOpponent
from .minimax import Minimax

TieBreak = Literal["random", "first"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def tier(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.tier


class RandomSpec(_Spec):
    """Uniformly random legal moves."""

    kind: Literal["random"] = "random"

    @property
    def tier(self) -> str:
        return "random"


class PerfectSpec(_Spec):
    """Exact play: minimax to the end (tic-tac-toe) or the game's registered solver (connect four)."""

    kind: Literal["perfect"] = "perfect"
    tie_break: TieBreak = Field("random", description="How to pick among equally good moves.")

    @property
    def tier(self) -> str:
        return "perfect" if self.tie_break == "random" else "perfect-first"


class MinimaxSpec(_Spec):
    """Alpha-beta search `depth` plies deep, scoring unfinished lines with the game's heuristic."""

    kind: Literal["minimax"] = "minimax"
    depth: int = Field(ge=1, le=64, description="Search depth in plies (both players' moves count).")
    tie_break: TieBreak = Field("random", description="How to pick among equally good moves.")
    heuristic: bool = Field(
        True,
        description=(
            "Score unfinished lines with the game's heuristic. Without it they count as even (tier suffix '-flat'): "
            "depth-1-flat takes a win in one and otherwise plays at random; depth-2-flat also blocks a win in one."
        ),
    )

    @property
    def tier(self) -> str:
        return (
            f"depth-{self.depth}"
            + ("" if self.heuristic else "-flat")
            + ("-first" if self.tie_break == "first" else "")
        )


class NoisySpec(_Spec):
    """With probability `p` a random move, otherwise the inner opponent's (by default `perfect`)."""

    kind: Literal["noisy"] = "noisy"
    p: float = Field(ge=0.0, le=1.0, description="Probability of playing a uniformly random move.")
    inner: Annotated[OpponentSpec, BeforeValidator(lambda v: parse_opponent(v) if isinstance(v, str) else v)] = Field(
        default_factory=PerfectSpec, description="The opponent played otherwise (a tier name or a spec)."
    )

    @property
    def tier(self) -> str:
        base = f"noisy-{self.p:g}"
        return base if self.inner == PerfectSpec() else f"{base}({self.inner.tier})"


class ModelSpec(_Spec):
    """A language model as the opponent (a frozen snapshot for league play, or any model under evaluation).

    Built by `opponents.model.ModelOpponent`, which needs the `train` extra.
    """

    kind: Literal["model"] = "model"
    path: str = Field(min_length=1, description="Local checkpoint directory or Hugging Face model id.")
    label: str | None = Field(None, description="Name in logs and reports (default: model:<path>).")
    temperature: float = Field(1.0, ge=0.0, description="Sampling temperature; 0 picks the most likely tokens.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_new_tokens: int = Field(256, ge=1, description="Longest completion generated per move.")
    board_layout: str | None = Field(
        None, description="How the board is written in its prompts (EnvConfig.board_layout): as it was trained."
    )

    @property
    def tier(self) -> str:
        return self.label or f"model:{self.path}"


OpponentSpec = Annotated[RandomSpec | PerfectSpec | MinimaxSpec | NoisySpec | ModelSpec, Field(discriminator="kind")]
NoisySpec.model_rebuild()
_ADAPTER: TypeAdapter[Any] = TypeAdapter(OpponentSpec)

TIER_HELP = (
    "random, perfect, noisy-<p> (p in [0, 1]), depth-<d> (d >= 1); "
    "'-flat' after depth-<d> scores unfinished lines as even (depth-1-flat: a win in one, else random); "
    "'-first' after perfect or depth-<d>[-flat] breaks ties by lowest move; model:<path> plays a language model"
)
_TIER = re.compile(r"(?:(random)|(perfect)(-first)?|depth-(\d+)(-flat)?(-first)?|noisy-([0-9]*\.?[0-9]+(?:e-?\d+)?))")


def parse_opponent(value: str | dict[str, Any] | _Spec) -> _Spec:
    """An opponent spec from a tier name, a dict (as in YAML) or a spec."""
    if isinstance(value, _Spec):
        return value
    if isinstance(value, dict):
        try:
            return _ADAPTER.validate_python(value)
        except ValidationError as exc:
            raise OpponentSpecError(f"invalid opponent spec {value!r}: {exc}") from exc
    if not isinstance(value, str):
        raise OpponentSpecError(f"an opponent is a tier name or a spec dict, not {type(value).__name__}")
    if value.startswith("model:") and len(value) > len("model:"):
        return ModelSpec(path=value[len("model:") :])
    m = _TIER.fullmatch(value.strip().lower())
    if not m:
        raise OpponentSpecError(f"unknown opponent tier {value!r}; tiers are: {TIER_HELP}")
    rnd, perfect, perfect_first, depth, flat, depth_first, p = m.groups()
    tie: TieBreak = "first" if (perfect_first or depth_first) else "random"
    try:
        if rnd:
            return RandomSpec()
        if perfect:
            return PerfectSpec(tie_break=tie)
        if depth:
            return MinimaxSpec(depth=int(depth), tie_break=tie, heuristic=not flat)
        return NoisySpec(p=float(p))
    except ValidationError as exc:
        raise OpponentSpecError(
            f"invalid opponent tier {value!r}: {exc.errors()[0]['msg']}; tiers are: {TIER_HELP}"
        ) from exc


def _game_spec_for(game: Game[Any]) -> GameSpec | None:
    for spec in list_games():
        if spec.make_game is type(game):
            return spec
    return None


def make_opponent(
    value: str | dict[str, Any] | _Spec, game: Game[Any] | str, cache: dict[str, Opponent] | None = None
) -> Opponent:
    """Build the opponent a spec describes, for one game (a rules object or a registered game name).

    With `cache` (tier name -> opponent), an opponent already built for a tier is reused, inner opponents of
    noisy tiers included, so every `noisy-<p>` shares one `perfect` and its search tables.
    """
    spec = parse_opponent(value)
    if cache is not None and spec.tier in cache:  # checked first: envs call this on every reset
        return cache[spec.tier]
    if isinstance(game, str):
        game_spec: GameSpec | None = get_spec(game)
        game = game_spec.game()
    else:
        game_spec = _game_spec_for(game)
    opponent: Opponent
    if isinstance(spec, RandomSpec):
        opponent = RandomOpponent(game)
    elif isinstance(spec, MinimaxSpec):
        opponent = Minimax(game, depth=spec.depth, tie_break=spec.tie_break, heuristic=spec.heuristic)
    elif isinstance(spec, PerfectSpec):
        if game_spec is not None and game_spec.perfect is not None:
            opponent = resolve(game_spec.perfect)(game, tie_break=spec.tie_break)
        else:
            opponent = Minimax(game, depth=None, tie_break=spec.tie_break)
    elif isinstance(spec, NoisySpec):
        opponent = NoisyOpponent(game, make_opponent(spec.inner, game, cache), spec.p)
    elif isinstance(spec, ModelSpec):
        try:
            from opponents.model import ModelOpponent
        except ImportError as exc:
            raise MissingExtraError(
                f"model opponents need the train extra (torch, transformers): pip install 'arena[train]' ({exc})"
            ) from exc
        opponent = ModelOpponent(game, spec)
    else:  # pragma: no cover - the union above is exhaustive
        raise OpponentSpecError(f"unsupported opponent spec {spec!r}")
    opponent.name = spec.tier
    if cache is not None:
        cache[spec.tier] = opponent
    return opponent
