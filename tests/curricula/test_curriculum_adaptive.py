"""Adaptive curricula promote and demote on synthetic result streams and hold still on noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from curricula import AdaptiveCurriculum, GameResult, make_curriculum

LEVELS = [{"random": 1.0}, {"random": 0.5, "noisy-0.5": 0.5}, {"noisy-0.5": 0.5, "perfect": 0.5}]

ResultsFactory = Callable[[str], list[GameResult]]


def _adaptive(**fields: object) -> AdaptiveCurriculum:
    config = {"kind": "adaptive", "levels": LEVELS, "window": 100, "min_games": 50, **fields}
    curriculum = make_curriculum(config, "tictactoe")
    assert isinstance(curriculum, AdaptiveCurriculum)
    return curriculum


def _stream(rng: np.random.Generator, n: int, p_win: float, p_draw: float = 0.0) -> list[GameResult]:
    u = rng.random(n)
    outcomes = ["win" if x < p_win else "draw" if x < p_win + p_draw else "loss" for x in u]
    return [GameResult(opponent="random", seat="first", outcome=o) for o in outcomes]


def test_promotes_on_a_winning_stream(results: ResultsFactory) -> None:
    curriculum = _adaptive()
    curriculum.update(results("w" * 49))
    assert curriculum.level == 0  # fewer than min_games since the start
    curriculum.set_step(7)
    curriculum.update(results("w"))
    assert curriculum.level == 1
    assert curriculum.history == [{"step": 7, "level": 1, "score": 1.0}]
    assert curriculum.describe()["curriculum/window_games"] == 0.0  # the window starts afresh
    curriculum.update(results("w" * 49))
    assert curriculum.level == 1  # min_games again before the next move
    curriculum.update(results("w"))
    assert curriculum.level == 2
    curriculum.update(results("w" * 500))
    assert curriculum.level == 2  # the hardest level holds
    assert set(curriculum.mixture()) == {"noisy-0.5", "perfect"}


def test_demotes_on_a_losing_stream(results: ResultsFactory) -> None:
    curriculum = _adaptive(start_level=2)
    curriculum.update(results("l" * 50))
    assert curriculum.level == 1
    curriculum.update(results("l" * 50))
    assert curriculum.level == 0
    curriculum.update(results("l" * 500))
    assert curriculum.level == 0


def test_draws_score_half(results: ResultsFactory) -> None:
    curriculum = _adaptive(start_level=1)
    curriculum.update(results("d" * 200))
    assert curriculum.level == 1 and curriculum.score == 0.5
    curriculum.update(results("t" * 100))  # truncated games count as losses
    assert curriculum.level == 0


def test_holds_still_on_noise_around_the_middle() -> None:
    curriculum = _adaptive(start_level=1)
    rng = np.random.default_rng(0)
    for _ in range(200):  # 200 batches of 32: 6400 games at an even score
        curriculum.update(_stream(rng, 32, p_win=0.4, p_draw=0.2))
    assert curriculum.level == 1 and curriculum.history == []


def test_settles_in_the_zone_instead_of_oscillating() -> None:
    # A synthetic model that beats level 0 easily, level 1 half the time and rarely wins at level 2.
    curriculum = _adaptive()
    win_rate = {0: 0.9, 1: 0.5, 2: 0.15}
    rng = np.random.default_rng(1)
    for step in range(300):
        curriculum.set_step(step)
        curriculum.update(_stream(rng, 32, win_rate[curriculum.level]))
    assert [move["level"] for move in curriculum.history] == [1]
    assert curriculum.level == 1


def test_a_model_that_improves_climbs_and_one_that_degrades_falls() -> None:
    curriculum = _adaptive()
    rng = np.random.default_rng(2)
    for step in range(60):
        curriculum.set_step(step)
        curriculum.update(_stream(rng, 32, p_win=0.95))
    assert curriculum.level == 2
    for step in range(60, 120):
        curriculum.set_step(step)
        curriculum.update(_stream(rng, 32, p_win=0.05))
    assert curriculum.level == 0
    levels = [move["level"] for move in curriculum.history]
    assert levels == [1, 2, 1, 0]
    assert curriculum.level_at(0) == 0 and curriculum.level_at(59) == 2 and curriculum.level_at(119) == 0


def test_sampling_follows_the_level(rng: np.random.Generator, results: ResultsFactory) -> None:
    curriculum = _adaptive()
    assert {s.tier for s in curriculum.sample_batch(rng, 20, 2)} == {"random"}
    curriculum.update(results("w" * 50))
    assert {s.tier for s in curriculum.sample_batch(rng, 200, 1)} == {"random", "noisy-0.5"}
    metrics = curriculum.describe()
    assert metrics["curriculum/level"] == 1.0 and metrics["curriculum/weight/noisy-0.5"] == pytest.approx(0.5)
    assert "curriculum/score" not in metrics  # nothing in the window yet


def test_update_accepts_env_info_dicts() -> None:
    curriculum = _adaptive()
    info = {"opponent": "random", "seat": "first", "result": "win", "invalid_moves": 0}
    curriculum.update([info] * 50)
    assert curriculum.level == 1 and curriculum.games_seen == 50
