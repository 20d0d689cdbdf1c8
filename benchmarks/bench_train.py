"""Training throughput: games/s, tokens/s, and a GRPO step's time split into generation, env, opponents and
optimisation, measured on real steps of `train.py`.

    python benchmarks/bench_train.py [--config configs/tictactoe-tiny-cpu.yaml] [--steps 12] [overrides ...]

Warm-up and evaluation are off; the first two steps are dropped as warm-up of caches and allocators, the
rest are summarised by their medians. Writes benchmarks/results/bench_train.json (read by report.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _machine import machine
from rich.console import Console
from rich.table import Table

from arena.training.config import load_train_config
from arena.training.job import train


def median(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/tictactoe-tiny-cpu.yaml")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_train.json")
    args, overrides = parser.parse_known_args()
    fixed = [
        "--grpo.steps", str(args.steps), "--grpo.logging_steps", "1", "--grpo.save_steps", str(10 * args.steps),
        "--grpo.report_to", "none", "--warmup.enabled", "false", "--eval.before", "false", "--eval.after", "false",
        "--eval.transcripts_every", "0",
    ]  # fmt: skip
    config = load_train_config(args.config, [*fixed, *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        config = config.model_copy(update={"run": config.run.model_copy(update={"output_dir": tmp})})
        started = time.perf_counter()
        run = train(config)
        wall = time.perf_counter() - started
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "rollout/seconds" in r][2:]
    timed = [r for r in rows if "step_time" in r][2:]
    games = config.grpo.group_size * config.grpo.groups_per_step
    step_s = median(timed, "step_time")
    generation, env, opponent = (
        median(steps, k) for k in ("rollout/generation_seconds", "rollout/env_seconds", "rollout/opponent_seconds")
    )
    rollout = median(steps, "rollout/seconds")
    phases = {
        "generation": generation,
        "env": max(0.0, env - opponent),
        "opponent": opponent,
        "optimizer": max(0.0, step_s - rollout),
    }
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() and config.run.device != "cpu" else "cpu"
    result = {
        "machine": {**machine(), "device": device},
        "config": args.config,
        "overrides": overrides,
        "model": config.model.name_or_path,
        "steps": len(steps),
        "games_per_step": games,
        "step_s_median": step_s,
        "games_per_s": games / step_s if step_s else 0.0,
        "model_tokens_per_s": median(steps, "rollout/model_tokens_per_second"),
        "phases_s": phases,
        "opponent_share": opponent / step_s if step_s else 0.0,
        "generation_share": generation / step_s if step_s else 0.0,
        "wall_s": wall,
    }
    table = Table(
        title=f"GRPO step on {device} ({result['machine']['cpu']}), {config.model.name_or_path}, {games} games a step"
    )
    for col in ("phase", "median s per step", "share"):
        table.add_column(col, justify="right")
    for phase, seconds in phases.items():
        table.add_row(phase, f"{seconds:.3f}", f"{seconds / step_s:.1%}" if step_s else "-")
    table.add_row("step", f"{step_s:.3f}", "100%")
    console = Console()
    console.print(table)
    console.print(f"games/s {result['games_per_s']:.1f}, generated tokens/s {result['model_tokens_per_s']:.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
