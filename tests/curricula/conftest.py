"""Shared fixtures for the curricula tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from curricula import GameResult

ResultsFactory = Callable[[str], list[GameResult]]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _results(outcomes: str) -> list[GameResult]:
    names = {"w": "win", "d": "draw", "l": "loss", "t": "truncated"}
    return [GameResult(opponent="random", seat="first", outcome=names[c]) for c in outcomes]


@pytest.fixture
def results() -> ResultsFactory:
    """Results from a string of outcome letters: w(in), d(raw), l(oss), t(runcated)."""
    return _results
