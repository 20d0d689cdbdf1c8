"""Interval and rating maths against hand-checked values."""

from __future__ import annotations

import math

import pytest

from arena.evaluation.stats import entropy_bits, expected_score, fit_rating, fit_ratings, move_entropy, wilson_interval


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Hand-computed with z = 1.959964: centre (p + z^2/2n) / (1 + z^2/n), half-width z sqrt(...) / (1 + z^2/n).
        (0, 10, 0.0, 0.277533),
        (5, 10, 0.236593, 0.763407),
        (10, 10, 0.722467, 1.0),
        (86, 100, 0.778628, 0.914736),
    ],
)
def test_wilson_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-5)
    assert hi == pytest.approx(high, abs=1e-5)


def test_wilson_edge_cases():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval(11, 10)


def test_expected_score():
    assert expected_score(0, 0) == 0.5
    assert expected_score(400, 0) == pytest.approx(10 / 11)


def test_fit_rating_one_anchor_closed_form():
    # 75 of 100 against a 0-rated anchor, plus one virtual draw: E = 75.5 / 101 solves the likelihood equation.
    fit = fit_rating([(0.0, 100, 75.0)])
    expected = 400 * math.log10(75.5 / 25.5)
    assert fit.rating == pytest.approx(expected, abs=0.01)
    assert fit.low < fit.rating < fit.high
    # Standard error: 1 / sqrt(n E (1 - E)) * 400 / ln 10 with n = 101.
    e = 75.5 / 101
    half = 1.959964 / math.sqrt(101 * e * (1 - e)) * 400 / math.log(10)
    assert fit.high - fit.rating == pytest.approx(half, abs=0.05)


def test_fit_rating_even_score_between_symmetric_anchors():
    fit = fit_rating([(-200.0, 50, 40.0), (200.0, 50, 10.0)])
    assert fit.rating == pytest.approx(0.0, abs=0.01)


def test_fit_rating_perfect_record_is_finite():
    fit = fit_rating([(0.0, 100, 100.0)])
    assert fit.rating == pytest.approx(400 * math.log10(100.5 / 0.5), abs=0.01)
    with pytest.raises(ValueError, match="no games"):
        fit_rating([])


def test_fit_ratings_recovers_pairwise_gap():
    ratings = fit_ratings([("a", "b", 100, 25.0)], {"a": 0.0})
    assert ratings["b"] == pytest.approx(400 * math.log10(75.5 / 25.5), abs=0.1)
    with pytest.raises(ValueError, match="anchor"):
        fit_ratings([("a", "b", 10, 5.0)], {})


def test_entropy():
    assert entropy_bits([5, 5]) == pytest.approx(1.0)
    assert entropy_bits([7]) == 0.0
    # Position p seen 4 times with two moves 2/2 (1 bit), q seen twice with one move (0 bits), r once (ignored).
    choices = [("p", 1), ("p", 2), ("p", 1), ("p", 2), ("q", 0), ("q", 0), ("r", 3)]
    value, positions = move_entropy(choices)
    assert positions == 2
    assert value == pytest.approx(4 / 6)
