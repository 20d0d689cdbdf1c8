"""Statistics of an evaluation: Wilson intervals, Elo-style ratings against anchored tiers, move entropy."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95% normal quantile
ELO_SCALE = 400.0
_LN10 = math.log(10.0)

#: Ratings of the scripted tiers, fitted once from round robins between them with `random` fixed at 0
#: (`python -m arena.evaluation.stats` reruns it; docs/evaluation.md has the table and the command).
#: Tiers not listed here are left out of the rating fit unless the caller gives them an anchor.
DEFAULT_ANCHORS: dict[str, dict[str, float]] = {
    "tictactoe": {
        "random": 0.0,
        "noisy-0.5": 212.0,
        "depth-1": 218.0,
        "noisy-0.1": 418.0,
        "depth-2": 441.0,
        "perfect-first": 489.0,
        "perfect": 497.0,
    },
    # 40 games a pairing; `perfect` needs the solver extra (bitbully), `perfect-first` shares its rating.
    "connect_four": {"random": 0.0, "depth-1": 555.0, "depth-2": 674.0, "perfect": 1142.0, "perfect-first": 1142.0},
}


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when there are no trials.

    `successes` may be fractional (a score with draws as halves), which treats the score as a proportion.
    """
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # At p = 0 or 1 the bound is exactly 0 or 1; rounding would otherwise leave it a hair inside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def expected_score(rating: float, opponent: float) -> float:
    """Elo expectation of the player rated `rating` against one rated `opponent`."""
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / ELO_SCALE))


@dataclass(frozen=True)
class Rating:
    """A fitted rating with a 95% interval from the curvature of the likelihood."""

    rating: float
    low: float
    high: float
    games: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "rating": round(self.rating, 1),
            "low": round(self.low, 1),
            "high": round(self.high, 1),
            "games": self.games,
        }


def fit_rating(results: Sequence[tuple[float, int, float]], prior_draws: float = 1.0) -> Rating:
    """Maximum-likelihood Elo rating from (opponent rating, games, total score) triples.

    A draw counts as half a win and half a loss. `prior_draws` adds that many virtual draws against every
    opponent played, so a player who wins (or loses) every game still gets a finite rating; with 100 games
    a tier the pull is about 1%.
    """
    rows = [(r, n + prior_draws, s + prior_draws / 2) for r, n, s in results if n > 0]
    if not rows:
        raise ValueError("no games against an anchored opponent: nothing to fit a rating from")

    def surplus(x: float) -> float:  # d(log-likelihood)/dx up to a positive factor; decreasing in x
        return sum(s - n * expected_score(x, r) for r, n, s in rows)

    lo = min(r for r, _, _ in rows) - 4000.0
    hi = max(r for r, _, _ in rows) + 4000.0
    for _ in range(200):  # bisection: the surplus is monotone, so this cannot fail to converge
        mid = (lo + hi) / 2
        if surplus(mid) > 0:
            lo = mid
        else:
            hi = mid
    x = (lo + hi) / 2
    info = sum(n * expected_score(x, r) * (1 - expected_score(x, r)) for r, n, _ in rows) * (_LN10 / ELO_SCALE) ** 2
    half = Z95 / math.sqrt(info) if info > 0 else math.inf
    return Rating(x, x - half, x + half, int(sum(n for _, n, _ in results)))


def fit_ratings(
    matches: Iterable[tuple[str, str, int, float]],
    anchors: Mapping[str, float],
    prior_draws: float = 1.0,
    rounds: int = 200,
) -> dict[str, float]:
    """Ratings of every player in (a, b, games, score of a) matches, the anchored ones held fixed.

    Fitted one player at a time with `fit_rating` against the current ratings of the others, until stable.
    """
    matches = list(matches)
    players = sorted({p for a, b, _, _ in matches for p in (a, b)})
    if not any(p in anchors for p in players):
        raise ValueError("at least one player must be an anchor with a fixed rating")
    ratings = {p: float(anchors.get(p, 0.0)) for p in players}
    for _ in range(rounds):
        moved = 0.0
        for p in players:
            if p in anchors:
                continue
            rows = [(ratings[b], n, s) for a, b, n, s in matches if a == p]
            rows += [(ratings[a], n, n - s) for a, b, n, s in matches if b == p]
            new = fit_rating(rows, prior_draws).rating
            moved = max(moved, abs(new - ratings[p]))
            ratings[p] = new
        if moved < 0.01:
            break
    return ratings


def entropy_bits(counts: Iterable[int]) -> float:
    """Shannon entropy (bits) of a distribution given by counts."""
    counts = [c for c in counts if c > 0]
    total = sum(counts)
    if total == 0:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in counts)


def move_entropy(choices: Iterable[tuple[Hashable, int]]) -> tuple[float, int]:
    """Mean entropy (bits) of the moves chosen in positions seen at least twice, weighted by visits.

    `choices` are (position key, move) pairs. Returns (entropy, number of such positions). A player that
    always plays the same move in the same position scores 0: in a probe against a deterministic opponent
    that is mode collapse (or a greedy decoder).
    """
    by_position: dict[Hashable, Counter[int]] = {}
    for key, move in choices:
        by_position.setdefault(key, Counter())[move] += 1
    repeated = [c for c in by_position.values() if sum(c.values()) >= 2]
    if not repeated:
        return 0.0, 0
    visits = sum(sum(c.values()) for c in repeated)
    return sum(entropy_bits(c.values()) * sum(c.values()) for c in repeated) / visits, len(repeated)
