"""The mixture chart helper (matplotlib, Agg backend)."""

from __future__ import annotations

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from arena.errors import ArenaError  # noqa: E402
from curricula import make_curriculum, plot_mixture  # noqa: E402


def test_scheduled_mixture_chart() -> None:
    curriculum = make_curriculum(
        {
            "kind": "scheduled",
            "waypoints": [{"step": 0, "opponents": "random"}, {"step": 100, "opponents": {"random": 1, "perfect": 1}}],
        },
        "tictactoe",
    )
    fig = plot_mixture(curriculum, steps=range(0, 201, 10))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["random", "perfect"]
    assert ax.get_xlim() == (0.0, 200.0) and "scheduled" in ax.get_title()
    assert curriculum.step == 0  # charting does not move the curriculum
    matplotlib.pyplot.close(fig)


def test_adaptive_history_and_logged_records() -> None:
    curriculum = make_curriculum(
        {"kind": "adaptive", "levels": ["random", "perfect"], "window": 4, "min_games": 4}, "tictactoe"
    )
    curriculum.set_step(30)
    curriculum.update([{"opponent": "random", "seat": "first", "result": "win"}] * 4)
    curriculum.set_step(60)
    fig = plot_mixture(curriculum)  # default steps: 0 .. current step
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {"random", "perfect"}
    matplotlib.pyplot.close(fig)

    fig, ax = matplotlib.pyplot.subplots()
    records = [(0, {"random": 1.0}), (10, {"random": 0.5, "depth-2": 0.5})]
    assert plot_mixture(records, ax=ax, title="logged") is fig
    assert ax.get_title() == "logged"
    matplotlib.pyplot.close(fig)


def test_range_schedules_chart_as_a_band() -> None:
    curriculum = make_curriculum(
        {
            "kind": "scheduled",
            "waypoints": [
                {"step": 0, "range": {"low": 0.6, "high": 0.9}},
                {"step": 50, "range": {"low": 0, "high": 0.3}},
            ],
        },
        "tictactoe",
    )
    fig = plot_mixture(curriculum, steps=range(0, 60, 5))
    assert fig.axes[0].get_ylabel() == "random-move probability p"
    matplotlib.pyplot.close(fig)
    with pytest.raises(ArenaError, match="nothing to chart"):
        plot_mixture([])
