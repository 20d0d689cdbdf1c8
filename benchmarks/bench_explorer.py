"""The explorer recipe on a run of the main job: does an explorer beside the exploitation policy find more than the
exploitation policy alone, at the same number of games?

    python benchmarks/bench_explorer.py --run runs/tictactoe__tiny-cpu__0__<time> [--seeds 0 1] [--steps 300]
        [--coef 1.0] [--delta 1.0] [--init exploitation|reference] [--problems 100] [--k 2 4 8]
        [--start-plies 2] [--temperature 1.0] [--tiers perfect perfect-first] [overrides ...]

The run's `warmup/` is the reference pi_ref and its `final/` the exploitation policy eta. Each seed trains one
explorer (`train.py --config configs/tictactoe-tiny-explorer.yaml`, started from `--init`; overrides go to it), then
pass@k is measured, with every player sampling at `--temperature`, from `--problems` random openings of
`--start-plies` moves per tier, for three players: eta alone, eta with the explorer (k/2 games each) and eta with
pi_ref (the same mixture with the policy before RL: what an explorer must beat). Prints a table (pass@k won and not
lost with 95% intervals, distinct lines) and writes benchmarks/results/bench_explorer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]


def train_explorer(
    run: Path, seed: int, args: argparse.Namespace, overrides: list[str], out: Path
) -> tuple[Path, float]:
    """One explorer stage; its run directory and wall seconds."""
    init = run / ("final" if args.init == "exploitation" else "warmup")
    cmd = [
        sys.executable, str(ROOT / "train.py"), "--config", str(ROOT / "configs" / "tictactoe-tiny-explorer.yaml"),
        "--run.seed", str(seed), "--run.output_dir", str(out), "--model.name_or_path", str(init),
        "--explorer.reference", str(run / "warmup"), "--explorer.exploitation", str(run / "final"),
        "--explorer.coef", str(args.coef), "--explorer.delta", str(args.delta), "--grpo.steps", str(args.steps),
        "--eval.after", "false", "--eval.before", "false", "--grpo.report_to", "none", *overrides,
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"explorer seed {seed} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    (explorer,) = [p for p in out.iterdir() if p.is_dir()]
    return explorer, time.perf_counter() - started


def pass_k(players: list[str], args: argparse.Namespace, seed: int) -> dict:
    """pass@k of `players` (the first, mixed with the others) over the benchmark's problems."""
    from arena.evaluation import evaluate

    report = evaluate(
        players[0],
        tiers=tuple(args.tiers),
        games_per_tier=2,  # the tier games are not what this measures
        seed=seed,
        move_quality=False,
        pass_k=tuple(args.k),
        pass_k_problems=args.problems,
        pass_k_start_plies=args.start_plies,
        player_options={"temperature": args.temperature, "max_new_tokens": 40},
        mix_with=players[1:],
    )
    return report.pass_at_k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run directory of the main job (with warmup/ and final/)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--coef", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1.0)
    parser.add_argument("--init", choices=["exploitation", "reference"], default="exploitation")
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--k", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--start-plies", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--tiers", nargs="+", default=["perfect", "perfect-first"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_explorer.json"))
    args, overrides = parser.parse_known_args()
    run = Path(args.run)
    for folder in ("warmup", "final"):
        if not (run / folder / "config.json").exists():
            raise SystemExit(f"--run {run}: no {folder}/ model there; pass a finished run of the main job")
    if any(k % 2 for k in args.k):
        raise SystemExit(f"--k {args.k}: a two-player mixture needs even k")

    results = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            explorer, wall = train_explorer(run, seed, args, overrides, Path(tmp))
            eta, ref, mine = f"model:{run / 'final'}", f"model:{run / 'warmup'}", f"model:{explorer / 'final'}"
            logged = [json.loads(line) for line in (explorer / "metrics.jsonl").read_text().splitlines()]
            last = [r for r in logged if "explorer/kl_exploitation" in r][-5:]
            arms = {"eta": [eta], "eta + explorer": [eta, mine], "eta + reference": [eta, ref]}
            results.append(
                {
                    "seed": seed,
                    "explorer_wall_s": round(wall, 1),
                    "explorer_last_logs": {
                        k: sum(r[k] for r in last) / len(last)
                        for k in ("explorer/kl_exploitation", "explorer/fire_rate", "games/invalid_move_rate")
                    },
                    "arms": {name: pass_k(players, args, seed) for name, players in arms.items()},
                }
            )

    console = Console(width=200)
    table = Table(
        title=f"pass@k from {args.problems} random {args.start_plies}-ply openings a tier, sampled at "
        f"{args.temperature} ({machine()['cpu']}, {machine()['cores']} cores)"
    )
    for col in ("seed", "players", "tier", *(f"won@{k}" for k in args.k), *(f"not lost@{k}" for k in args.k), "lines"):
        table.add_column(col, justify="left" if col in ("players", "tier") else "right")
    for res in results:
        for name, section in res["arms"].items():
            for t in section["tiers"]:
                cells = []
                for outcome in ("win", "not_lost"):
                    for k in args.k:
                        e = t["pass_at_k"][str(k)]
                        lo, hi = e[f"{outcome}_ci"]
                        cells.append(f"{e[outcome]:.2f} [{lo:.2f}-{hi:.2f}]")
                table.add_row(
                    str(res["seed"]), name, t["tier"], *cells, f"{t['distinct_lines']} ({t['distinct_winning_lines']})"
                )
    console.print(table)
    for res in results:
        logs = res["explorer_last_logs"]
        console.print(
            f"seed {res['seed']}: explorer trained in {res['explorer_wall_s']:.0f} s; last logs: KL to eta "
            f"{logs['explorer/kl_exploitation']:.2f}, fire rate {logs['explorer/fire_rate']:.2f}, invalid "
            f"{logs['games/invalid_move_rate']:.3f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    out.write_text(
        json.dumps({"machine": machine(), "settings": settings, "overrides": overrides, "results": results}, indent=2)
        + "\n"
    )
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
