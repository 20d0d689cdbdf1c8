"""Charts of a curriculum's opponent mixture over training steps (matplotlib is imported only when called)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from arena.errors import MissingExtraError

from .base import Curriculum

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
    labels: list[str] = []
    for _, mixture in records:
        labels.extend(label for label in mixture if label not in labels)
    xs = [step for step, _ in records]
    ys = [[mixture.get(label, 0.0) for _, mixture in records] for label in labels]

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.5))
    else:
        fig = ax.figure
    ax.stackplot(xs, ys, labels=labels)
    ax.set_xlabel("training step")
    ax.set_ylabel("share of episodes")
    ax.set_ylim(0, 1)
    if xs:
        ax.set_xlim(xs[0], max(xs[-1], xs[0] + 1))
    if title:
        ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", frameon=False)
    fig.tight_layout()
    return fig
