"""Learning speed: the main job's recipe over several seeds, score vs `random` and `perfect` against GRPO minutes.

    python benchmarks/bench_learning.py [--config configs/tictactoe-tiny-cpu.yaml] [--seeds 0 1] [--every 50]
                                        [--games 100] [--parallel] [overrides ...]

Each seed is one `train.py` run of the config (warm-up, GRPO, the after-evaluation of the config), evaluated
greedily every `--every` steps on `--games` seat-balanced games per tier; the minutes are GRPO time with those
evaluations left out. With `--parallel` the seeds run at the same time, the machine's cores shared out between
them (the games are the same; the minutes are each run's on its share). Prints a table (final scores with 95%
intervals, minutes to reach 0.8 and 0.9 vs `random`) and writes benchmarks/results/bench_learning.json and
bench_learning.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _machine import machine
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
TIERS = ("random", "perfect")


def run_seed(
    config: str, seed: int, every: int, games: int, overrides: list[str], out: Path, threads: int | None = None
) -> dict:
    """One training run (on `threads` torch threads when given); its curve (minutes, step, scores) and its final
    evaluation."""
    cmd = [
        sys.executable, str(ROOT / "train.py"), "--config", config, "--run.seed", str(seed),
        "--run.output_dir", str(out), "--eval.every_steps", str(every), "--eval.games_during", str(games),
        "--eval.tiers", "[" + ", ".join(TIERS) + "]", "--eval.before", "false", "--grpo.report_to", "none",
        *overrides,
    ]  # fmt: skip
    started = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    curve = [
        {"step": r["step"], "minutes": r["eval/train_minutes"], **{t: r.get(f"eval/score_vs_{t}") for t in TIERS}}
        for r in rows
        if "eval/train_minutes" in r
    ]
    after = json.loads((run / "eval_after.json").read_text())["tiers"]
    final = {
        t["tier"]: {k: t[k] for k in ("games", "wins", "draws", "losses", "score", "score_ci", "invalid_move_rate")}
        for t in after
    }
    return {"seed": seed, "wall_s": wall, "curve": curve, "final": final}


def minutes_to(curve: list[dict], tier: str, level: float) -> float | None:
    return next((p["minutes"] for p in curve if p[tier] is not None and p[tier] >= level), None)


def plot(results: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, len(TIERS))
    for ax, tier in zip(axes, TIERS, strict=True):
        for r in results:
            xs, ys = [p["minutes"] for p in r["curve"]], [p[tier] for p in r["curve"]]
            ax.plot(xs, ys, marker=".", label=f"seed {r['seed']}")
        ax.set_title(f"score vs {tier}")
        ax.set_xlabel("GRPO minutes (evaluations excluded)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/tictactoe-tiny-cpu.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--every", type=int, default=50, help="evaluate every this many GRPO steps")
    parser.add_argument("--games", type=int, default=100, help="games per tier in those evaluations")
    parser.add_argument("--parallel", action="store_true", help="run the seeds at once, sharing out the cores")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_learning.json")
    args, overrides = parser.parse_known_args()

    def one(seed: int, threads: int | None) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_seed(args.config, seed, args.every, args.games, overrides, Path(tmp), threads)
        Console().print(f"seed {seed} done in {result['wall_s'] / 60:.1f} min")
        return result

    if args.parallel:
        threads = max(1, (os.cpu_count() or 1) // len(args.seeds))
        with ThreadPoolExecutor(max_workers=len(args.seeds)) as pool:
            results = list(pool.map(lambda seed: one(seed, threads), args.seeds))
    else:
        results = [one(seed, None) for seed in args.seeds]
    for r in results:
        r["minutes_to"] = {f"{level}": minutes_to(r["curve"], "random", level) for level in (0.8, 0.9)}
    table = Table(title=f"Learning: {args.config}, greedy evaluation after GRPO ({machine()['cores']} cores)")
    for col in ("seed", *(f"vs {t} W/D/L" for t in TIERS), *(f"vs {t} score [95% CI]" for t in TIERS)):
        table.add_column(col, justify="right")
    table.add_column("min to 0.8 / 0.9 vs random", justify="right")
    table.add_column("job min", justify="right")
    for r in results:
        f = r["final"]
        wdl = [f"{f[t]['wins']}/{f[t]['draws']}/{f[t]['losses']}" for t in TIERS]
        scores = [f"{f[t]['score']:.2f} [{f[t]['score_ci'][0]:.2f}, {f[t]['score_ci'][1]:.2f}]" for t in TIERS]
        reach = " / ".join("-" if m is None else f"{m:.1f}" for m in r["minutes_to"].values())
        table.add_row(str(r["seed"]), *wdl, *scores, reach, f"{r['wall_s'] / 60:.1f}")
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": machine(),
        "config": args.config,
        "overrides": overrides,
        "parallel": args.parallel,
        "every": args.every,
        "games": args.games,
        "runs": results,
    }
    args.out.write_text(json.dumps(payload, indent=2))
    plot(results, args.out.with_suffix(".png"))
    Console().print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
