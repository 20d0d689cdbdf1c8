"""Charts of a curriculum's opponent mixture over training steps (matplotlib is imported only when called)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from arena.errors import CurriculumError, MissingExtraError

from .base import Curriculum
from .scheduled import ScheduledCurriculum

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def mixture_history(curriculum: Curriculum, steps: Sequence[int]) -> list[tuple[int, dict[str, float]]]:
    """(step, mixture) at each of `steps`, without moving the curriculum's own step."""
    return [(int(step), curriculum.mixture_at(int(step))) for step in steps]


def plot_mixture(
    source: Curriculum | Sequence[tuple[int, Mapping[str, float]]],
    steps: Sequence[int] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """A stacked-area chart of opponent probabilities over steps.

    `source` is a curriculum (charted at `steps`, default 0..its current step in 50 points; an adaptive one
    replays its level history) or logged `(step, {tier: probability})` records, e.g. `describe()` weights.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("plotting needs matplotlib: pip install 'arena[train]'") from exc

    if isinstance(source, Curriculum):
        if steps is None:
            last = max(source.step, 1)
            steps = sorted({round(i * last / 49) for i in range(50)})
        records = mixture_history(source, steps)
        title = title if title is not None else f"{source.kind} curriculum ({source.game.name})"
    else:
        records = [(int(step), dict(mixture)) for step, mixture in source]
    if not records:
        raise CurriculumError("nothing to chart: give at least one step (or one logged record)")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.5))
    else:
        fig = ax.figure
    if isinstance(source, ScheduledCurriculum) and source.config.waypoints[0].range is not None:
        # A scheduled range names a different tier at almost every step; its band reads better than a stack.
        ranges = [r for step, _ in records if (r := source.range_at(step)) is not None]
        xs = [step for step, _ in records]
        ax.fill_between(xs, [r.low for r in ranges], [r.high for r in ranges], alpha=0.4, label="range")
        ax.set_ylabel("random-move probability p" if ranges[0].kind == "noisy" else "search depth")
        return _finish(fig, ax, xs, title, ylim=(0, 1) if ranges[0].kind == "noisy" else None)

    labels: list[str] = []
    for _, mixture in records:
        labels.extend(label for label in mixture if label not in labels)
    xs = [step for step, _ in records]
    ys = [[mixture.get(label, 0.0) for _, mixture in records] for label in labels]
    ax.stackplot(xs, ys, labels=labels)
    ax.set_ylabel("share of episodes")
    return _finish(fig, ax, xs, title, ylim=(0, 1))


def _finish(fig: Figure, ax: Axes, xs: Sequence[int], title: str | None, ylim: tuple[float, float] | None) -> Figure:
    ax.set_xlabel("training step")
    if ylim is not None:
        ax.set_ylim(*ylim)
    if xs:
        ax.set_xlim(xs[0], max(xs[-1], xs[0] + 1))
    if title:
        ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    fig.tight_layout()
    return fig
