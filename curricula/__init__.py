"""Curricula: schedulers that pick the opponent, seat, start position and seed of each episode.

from curricula import make_curriculum
curriculum = make_curriculum({"kind": "fixed", "opponents": {"random": 0.3, "noisy-0.5": 0.4, "perfect": 0.3}},
                             "tictactoe")
specs = curriculum.sample_batch(rng, num_groups=8, group_size=8)   # env.reset(options=spec.to_options())
curriculum.update(results)                                          # GameResult.from_info(final_info)
"""

from __future__ import annotations

from .adaptive import AdaptiveCurriculum
from .base import Curriculum, Stratum
from .config import (
    AdaptiveConfig,
    CurriculumConfig,
    EmptyStart,
    FixedConfig,
    OpeningStart,
    PuzzleStart,
    ScheduledConfig,
    SkillRange,
    StratifiedConfig,
    Waypoint,
    WeightedOpponent,
    config_from_yaml,
    config_to_yaml,
    load_config,
    parse_config,
)
from .episode import OUTCOME_SCORE, EpisodeSpec, GameResult
from .factory import make_curriculum
from .fixed import FixedCurriculum
from .plot import plot_mixture
from .scheduled import ScheduledCurriculum
from .starts import Puzzle, StartSampler, classify, find_puzzle
from .stratified import StratifiedCurriculum

__all__ = [
    "OUTCOME_SCORE",
    "AdaptiveConfig",
    "AdaptiveCurriculum",
    "Curriculum",
    "CurriculumConfig",
    "EmptyStart",
    "EpisodeSpec",
    "FixedConfig",
    "FixedCurriculum",
    "GameResult",
    "OpeningStart",
    "Puzzle",
    "PuzzleStart",
    "ScheduledConfig",
    "ScheduledCurriculum",
    "SkillRange",
    "StartSampler",
    "StratifiedConfig",
    "StratifiedCurriculum",
    "Stratum",
    "Waypoint",
    "WeightedOpponent",
    "classify",
    "config_from_yaml",
    "config_to_yaml",
    "find_puzzle",
    "load_config",
    "make_curriculum",
    "parse_config",
    "plot_mixture",
]
