"""Core speed: random-vs-random games per second through the text env, and opponent move latency per tier.

    python benchmarks/bench_core.py [--quick] [--out benchmarks/results/bench_core.json]

Every env game renders the prompt and parses a `<think>..</think><move>N</move>` answer on every agent turn.
Latency is measured on positions from random games, each tier with a fresh opponent (so caches start cold
and warm up as a real run's would).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from _machine import machine
from rich.console import Console
from rich.table import Table

from arena.env import TextGameEnv
from arena.errors import MissingExtraError
from arena.games import make_game
from opponents import make_opponent


def play_random_game(env: TextGameEnv, seed: int, rng: np.random.Generator) -> None:
    """One game through the text env, the agent answering uniformly random legal moves in the answer format."""
    _obs, info = env.reset(seed=seed)
    done = False
    while not done:
        move = info["legal_moves"][int(rng.integers(len(info["legal_moves"])))]
        _obs, _reward, terminated, truncated, info = env.step(f"<think>random</think><move>{move}</move>")
        done = terminated or truncated


def env_games_per_second(game: str, games: int, seed: int) -> float:
    env = TextGameEnv(game, opponent="random", agent_seat="random")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for i in range(games):
        play_random_game(env, seed + i, rng)
    return games / (time.perf_counter() - start)


def sample_positions(game_name: str, count: int, seed: int) -> list:
    game = make_game(game_name)
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        state = game.initial_state()
        while not game.is_over(state) and len(out) < count:
            out.append(state)
            moves = game.legal_moves(state)
            state = game.apply(state, moves[int(rng.integers(len(moves)))])
    return out


def move_latency(game_name: str, tier: str, positions: list, seed: int) -> dict[str, float]:
    opponent = make_opponent(tier, game_name)
    rng = np.random.default_rng(seed)
    times = []
    for state in positions:
        start = time.perf_counter()
        opponent.choose(state, rng)
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "median_us": statistics.median(times) * 1e6,
        "p95_us": times[int(0.95 * (len(times) - 1))] * 1e6,
        "max_us": times[-1] * 1e6,
        "positions": len(times),
    }


TIERS = {
    "tictactoe": ["random", "noisy-0.5", "depth-2", "perfect"],
    "connect_four": ["random", "noisy-0.5", "depth-2", "depth-4", "perfect"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer games and positions (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5, help="env throughput repeats; the median is reported")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_core.json")
    args = parser.parse_args()
    console = Console()
    scale = 0.1 if args.quick else 1.0
    env_games = {"tictactoe": int(2000 * scale), "connect_four": int(500 * scale)}
    positions = int(300 * scale)

    results: dict = {"machine": machine(), "env": {}, "latency": {}}
    for game, n in env_games.items():
        runs = [env_games_per_second(game, n, seed=r * 10_000) for r in range(args.repeats)]
        results["env"][game] = {"games": n, "repeats": args.repeats, "games_per_s_median": statistics.median(runs)}
    for game, tiers in TIERS.items():
        states = sample_positions(game, positions, seed=1)
        for tier in tiers:
            try:
                results["latency"][f"{game}/{tier}"] = move_latency(game, tier, states, seed=2)
            except MissingExtraError as exc:
                results["latency"][f"{game}/{tier}"] = {"skipped": str(exc)}

    m = results["machine"]
    table = Table(title=f"Text env, random vs random ({m['cpu']}, {m['cores']} cores, Python {m['python']})")
    for col in ("game", "games", "games/s (median of repeats)"):
        table.add_column(col, justify="right")
    for game, r in results["env"].items():
        table.add_row(game, str(r["games"]), f"{r['games_per_s_median']:.0f}")
    console.print(table)
    table = Table(title="Opponent move latency (fresh opponent, positions from random games)")
    for col in ("game/tier", "positions", "median", "p95", "max"):
        table.add_column(col, justify="right")
    for key, r in results["latency"].items():
        if "skipped" in r:
            table.add_row(key, "-", "skipped: solver extra missing", "", "")
        else:
            table.add_row(key, str(r["positions"]), _fmt(r["median_us"]), _fmt(r["p95_us"]), _fmt(r["max_us"]))
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {args.out}")


def _fmt(us: float) -> str:
    return f"{us:.1f} us" if us < 1000 else f"{us / 1000:.2f} ms"


if __name__ == "__main__":
    main()
