"""pass@k for games: does at least one of k sampled games from a start win (or not lose)?

A *problem* is one start of a game against one tier: the seat, the opening (none, or a random one), and the
opponent's and the env's seeds. Each problem is played `n` times with different player seeds; pass@k is then
estimated without bias from the `c` of them that succeeded, as `1 - C(n - c, k) / C(n, k)` (the probability that k
games drawn without replacement from the n played hold at least one success).

A *mixture* of m players plays n/m games of every problem each, and pass@k of the mixture gives each player k/m of
the k games: the chance that all k fail is the product of each player's chance that its k/m games all fail. This is
how an explorer policy is judged beside the policy it departs from, at the same number of games.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb
from typing import Any

from arena.errors import ArenaError
from arena.evaluation.stats import wilson_interval


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from `n` games of which `c` succeeded (k <= n)."""
    return mixture_pass_at_k([(n, c)], k)


def mixture_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k of a mixture whose players each play k/m of the k games; `counts` holds each player's (games,
    successes) on one problem. One player: the usual estimate."""
    m = len(counts)
    if m == 0:
        raise ArenaError("pass@k needs at least one player's games")
    if k < 1 or k % m:
        raise ArenaError(f"pass@{k} of a mixture of {m} players needs k to be a positive multiple of {m}")
    share = k // m
    fail = 1.0
    for n, c in counts:
        if not 0 <= c <= n:
            raise ArenaError(f"a player cannot have {c} successes in {n} games")
        if share > n:
            raise ArenaError(f"pass@{k} needs {share} games a player a problem, but only {n} were played")
        fail *= comb(n - c, share) / comb(n, share)
    return 1.0 - fail


def check_pass_k(ks: Sequence[int], samples: int, players: int) -> None:
    """Refuse, before any game is played, a set of k that `samples` games a problem split over `players` players
    cannot estimate."""
    for k in ks:
        if k % players:
            raise ArenaError(
                f"pass_k (--pass-k) {k}: a mixture of {players} players needs every k to be a multiple of {players}"
            )
        if k > samples:
            raise ArenaError(
                f"pass_k (--pass-k) {k} is more than the {samples} games played a problem (pass_k_samples)"
            )
    if samples % players:
        raise ArenaError(
            f"pass_k_samples (--pass-k-samples) {samples} cannot be split evenly over {players} players: use a "
            f"multiple of {players}"
        )


def pass_k_entry(
    tier: str, ks: Sequence[int], players: Sequence[str], problems: Sequence[Sequence[Sequence[Any]]]
) -> dict[str, Any]:
    """The report's pass@k entry for one tier.

    `problems[i][p]` holds the finished games (`GameRecord`s) that `players[p]` played of problem i. Rates average
    the per-problem estimates; their 95% intervals treat each problem as one trial (Wilson, as for the score).
    """
    n = len(problems)
    by_k: dict[str, Any] = {}
    for k in ks:
        entry: dict[str, Any] = {}
        for name, ok in (("win", ("win",)), ("not_lost", ("win", "draw"))):
            total = sum(
                mixture_pass_at_k([(len(games), sum(g.result in ok for g in games)) for games in problem], k)
                for problem in problems
            )
            total = min(total, float(n))  # a float sum of estimates at most 1 must not round past n
            entry[name] = total / n if n else None
            entry[f"{name}_ci"] = list(wilson_interval(total, n))
        by_k[str(k)] = entry
    lines = [{tuple(g.moves) for games in problem for g in games} for problem in problems]
    won = [{tuple(g.moves) for games in problem for g in games if g.result == "win"} for problem in problems]
    games = [g for problem in problems for mine in problem for g in mine]
    turns = sum(g.agent_turns for g in games)
    return {
        "tier": tier,
        "problems": n,
        "games": len(games),
        "pass_at_k": by_k,
        "distinct_lines": sum(len(s) for s in lines),
        "distinct_winning_lines": sum(len(s) for s in won),
        "distinct_lines_per_problem": sum(len(s) for s in lines) / n if n else None,
        "distinct_winning_lines_per_problem": sum(len(s) for s in won) / n if n else None,
        "invalid_move_rate": sum(g.invalid_moves for g in games) / turns if turns else None,
        "per_player": [
            {
                "player": name,
                "games": len(mine),
                **{f"{r}s": sum(g.result == r for g in mine) for r in ("win", "draw")},
                "losses": sum(g.result not in ("win", "draw") for g in mine),
            }
            for p, name in enumerate(players)
            for mine in [[g for problem in problems for g in problem[p]]]
        ],
    }
