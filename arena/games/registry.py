"""Game registry: built-in games, `register_game()` calls and the `arena.games` entry-point group."""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import gymnasium

from arena.errors import ArenaError, GameConfigError, UnknownGameError

from .base import Game

if TYPE_CHECKING:
    from arena.text import Renderer

ENTRY_POINT_GROUP = "arena.games"
ENV_ENTRY_POINT = "arena.env:TextGameEnv"
VECTOR_ENTRY_POINT = "arena.vector:TextGameVectorEnv"  # gymnasium.make_vec(env_id, num_envs=...) builds this


@dataclass(frozen=True)
class GameSpec:
    """Everything arena needs to offer a game: rules, how it is shown as text, and its env id.

    `perfect` optionally names (as "module:attribute") or gives a factory `f(game, tie_break="random") ->
    Opponent` for the `perfect` tier, for a game too big for exact minimax that has a solver of its own; the
    `noisy-<p>` tiers play it too. Its opponent should break ties among optimal moves with the `rng` it is
    given when `tie_break="random"` (else by the lowest move), and may offer `move_values(state) -> {move:
    value}` (> 0 wins, 0 draws, < 0 loses, for the player to move) so that evaluation judges blunders with it.
    Without it `perfect` is exact minimax, which suits games small enough to solve.
    """

    name: str
    make_game: Callable[..., Game]
    make_renderer: Callable[..., Renderer]  # f(game) or, for a renderer with several layouts, f(game, layout=...)
    env_id: str
    description: str = ""
    perfect: str | Callable[[Game], Any] | None = None
    game_kwargs: dict[str, Any] = field(default_factory=dict)

    def game(self, **kwargs: Any) -> Game:
        """The game built with `kwargs` over the registration's own `game_kwargs`. Arguments it does not take, or
        values it refuses, raise `GameConfigError` naming them."""
        merged = {**self.game_kwargs, **kwargs}
        try:
            inspect.signature(self.make_game).bind(**merged)
        except TypeError as exc:
            raise GameConfigError(f"game_kwargs {kwargs} do not build {self.name}: {exc}") from None
        except ValueError:  # a callable without a signature: let it judge its arguments itself
            pass
        try:
            return self.make_game(**merged)
        except GameConfigError as exc:
            raise GameConfigError(f"game_kwargs {kwargs} do not build {self.name}: {exc}") from None

    def renderer(self, game: Game, layout: str | None = None) -> Renderer:
        """The game's renderer; `layout` names one of its board layouts (`Renderer.layouts`), None its default."""
        renderer = self.make_renderer(game)
        if layout is None or layout == getattr(renderer, "layout", None):
            return renderer
        if len(getattr(renderer, "layouts", ())) < 2:  # a plug-in renderer may take no layout argument
            raise ArenaError(f"{self.name} boards are written one way only; board_layout {layout!r} is not offered")
        return self.make_renderer(game, layout=layout)  # Renderer.__init__ names the layouts offered


_REGISTRY: dict[str, GameSpec] = {}
_entry_points_loaded = False


def register_game(spec: GameSpec, *, replace: bool = False) -> GameSpec:
    """Add a game to arena and register its Gymnasium env id. Returns the spec."""
    if not spec.name or not spec.name.replace("_", "").replace("-", "").isalnum():
        raise ArenaError(f"game name {spec.name!r} must be letters, digits, '_' or '-'")
    if spec.name in _REGISTRY and not replace:
        if _REGISTRY[spec.name] == spec:
            return spec
        raise ArenaError(f"a game named {spec.name!r} is already registered; pass replace=True to override it")
    _REGISTRY[spec.name] = spec
    if spec.env_id in gymnasium.registry and replace:
        del gymnasium.registry[spec.env_id]
    if spec.env_id not in gymnasium.registry:
        gymnasium.register(
            id=spec.env_id,
            entry_point=ENV_ENTRY_POINT,
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs={"game": spec.name},
        )
    return spec


def _load_entry_points() -> None:
    """Import third-party games advertised under the `arena.games` entry-point group, once."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            spec = obj() if callable(obj) and not isinstance(obj, GameSpec) else obj
            if isinstance(spec, GameSpec):
                register_game(spec)
        except Exception as exc:  # a broken plugin must not take the built-in games down with it
            warnings.warn(f"could not load game entry point {ep.name!r} ({ep.value}): {exc}", stacklevel=2)


def get_spec(name: str) -> GameSpec:
    """The registered game called `name` (a third-party entry point is loaded on first use)."""
    if name not in _REGISTRY:
        _load_entry_points()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownGameError(f"unknown game {name!r}; registered games: {known}")
    return _REGISTRY[name]


def make_game(name: str, **kwargs: Any) -> Game:
    """Build the rules object of a registered game."""
    return get_spec(name).game(**kwargs)


def list_games() -> list[GameSpec]:
    _load_entry_points()
    return sorted(_REGISTRY.values(), key=lambda s: s.name)


def resolve(obj: str | Callable[..., Any]) -> Callable[..., Any]:
    """Import a "module:attribute" reference, or return a callable unchanged."""
    if callable(obj):
        return obj
    module, _, attr = obj.partition(":")
    target: Any = importlib.import_module(module)
    for part in attr.split("."):
        target = getattr(target, part)
    return target
