"""The tiny training run the training tests share: a few warm-up and GRPO steps on CPU, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
TINY = [
    "--warmup.steps", "3", "--warmup.games", "6", "--warmup.batch_size", "4",
    "--grpo.groups_per_step", "2", "--grpo.group_size", "4", "--grpo.max_new_tokens", "12",
    "--grpo.logging_steps", "1", "--grpo.report_to", "none",
    "--eval.tiers", "[random]", "--eval.games_per_tier", "4", "--eval.transcripts_every", "2",
    "--run.device", "cpu",
    # An untrained model's answers are all invalid; playing a random move for it lets games (and so rewards)
    # differ within a group, so GRPO has an advantage to follow even after 3 warm-up steps.
    "--env.invalid_move", "random",
]  # fmt: skip


def run_train(tmp_path: Path, *extra: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    env["COLUMNS"] = "1000"  # rich wraps at 80 columns when piped; long paths would be cut in the middle
    cmd = [sys.executable, str(ROOT / "train.py"), *TINY, "--run.output_dir", str(tmp_path), *extra]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def only_run(tmp_path: Path) -> Path:
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return run
