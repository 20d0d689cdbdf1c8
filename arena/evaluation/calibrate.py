"""Fit the anchor ratings of scripted tiers from round robins between them (`random` fixed at 0).

`python -m arena.evaluation.calibrate --game tictactoe --games 200` prints the table that
`arena.evaluation.stats.DEFAULT_ANCHORS` holds; docs/evaluation.md quotes its output.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from itertools import combinations

from arena.evaluation.runner import evaluate
from arena.evaluation.stats import fit_ratings

CALIBRATION_TIERS = {
    "tictactoe": ("random", "noisy-0.5", "depth-1", "depth-2", "noisy-0.1", "perfect", "perfect-first"),
    "connect_four": ("random", "depth-1", "depth-2", "depth-4", "perfect", "perfect-first"),
}


def calibrate(game: str, tiers: Sequence[str], games: int = 200, seed: int = 0) -> dict[str, float]:
    """Ratings of `tiers` from every pairing (`games` seat-balanced games each), `random` (or the first) at 0."""
    matches = []
    for a, b in combinations(tiers, 2):
        report = evaluate(a, game=game, tiers=[b], games_per_tier=games, seed=seed, move_quality=False)
        t = report.tiers[0]
        matches.append((a, b, t["games"], t["wins"] + t["draws"] / 2))
    anchor = "random" if "random" in tiers else tiers[0]
    return fit_ratings(matches, {anchor: 0.0})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="tictactoe", help="registered game name")
    parser.add_argument("--tiers", nargs="+", default=None, help="tiers to rate (default: the documented set)")
    parser.add_argument("--games", type=int, default=200, help="games per pairing")
    parser.add_argument("--seed", type=int, default=0, help="root seed")
    args = parser.parse_args(argv)
    tiers = args.tiers or CALIBRATION_TIERS[args.game]
    ratings = calibrate(args.game, tiers, args.games, args.seed)
    print(json.dumps({t: round(r) for t, r in ratings.items()}, indent=2))


if __name__ == "__main__":
    main()
