"""Scripted opponents: random, minimax with randomized tie-breaking, noisy mixes and solvers."""

from __future__ import annotations

from .base import NoisyOpponent, Opponent, RandomOpponent
from .minimax import Minimax
from .spec import (
    TIER_HELP,
    MinimaxSpec,
    ModelSpec,
    NoisySpec,
    OpponentSpec,
    PerfectSpec,
    RandomSpec,
    make_opponent,
    parse_opponent,
)

__all__ = [
    "TIER_HELP",
    "Minimax",
    "MinimaxSpec",
    "ModelSpec",
    "NoisyOpponent",
    "NoisySpec",
    "Opponent",
    "OpponentSpec",
    "PerfectSpec",
    "RandomOpponent",
    "RandomSpec",
    "make_opponent",
    "parse_opponent",
]
