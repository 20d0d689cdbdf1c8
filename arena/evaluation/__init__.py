"""Evaluation of any player (scripted tier, transformers model, chat endpoint) against opponent tiers."""

from __future__ import annotations

from arena.evaluation.players import (
    EndpointError,
    HFPlayer,
    OpenAIPlayer,
    Player,
    ScriptedPlayer,
    Turn,
    make_player,
)
from arena.evaluation.quality import MoveJudge, Verdict
from arena.evaluation.runner import DEFAULT_TIERS, EvalConfig, EvalReport, GameRecord, TierStats, evaluate
from arena.evaluation.stats import DEFAULT_ANCHORS, fit_rating, fit_ratings, wilson_interval

__all__ = [
    "DEFAULT_ANCHORS",
    "DEFAULT_TIERS",
    "EndpointError",
    "EvalConfig",
    "EvalReport",
    "GameRecord",
    "HFPlayer",
    "MoveJudge",
    "OpenAIPlayer",
    "Player",
    "ScriptedPlayer",
    "TierStats",
    "Turn",
    "Verdict",
    "evaluate",
    "fit_rating",
    "fit_ratings",
    "make_player",
    "wilson_interval",
]
