"""One factory from a curriculum config (or its dict/YAML form) to a curriculum."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arena.games.base import Game
from arena.games.registry import make_game

from .adaptive import AdaptiveCurriculum
from .base import Curriculum
from .config import AdaptiveConfig, FixedConfig, ScheduledConfig, StratifiedConfig, parse_config
from .fixed import FixedCurriculum
from .scheduled import ScheduledCurriculum
from .stratified import StratifiedCurriculum

CURRICULA: dict[type[Any], type[Curriculum]] = {
    FixedConfig: FixedCurriculum,
    StratifiedConfig: StratifiedCurriculum,
    ScheduledConfig: ScheduledCurriculum,
    AdaptiveConfig: AdaptiveCurriculum,
}


def make_curriculum(config: Any | Mapping[str, Any], game: Game[Any] | str) -> Curriculum:
    """The curriculum a config describes, for one game (a rules object or a registered game name).

    Scripted players of openings and puzzles are built here, so a missing extra (bitbully for connect four's
    `perfect`) or too deep an opening fails now rather than mid-training.
    """
    config = parse_config(config)
    if isinstance(game, str):
        game = make_game(game)
    return CURRICULA[type(config)](config, game)
