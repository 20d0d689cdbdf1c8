"""Faults during a real (tiny, CPU) training run: Ctrl-C saves a checkpoint and says how to resume; a resume
skips a damaged newest checkpoint for the intact one before it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trl")

from tinyrun import ROOT, TINY, only_run, run_train  # noqa: E402

from arena.training.checkpoints import checkpoint_problem  # noqa: E402


@pytest.mark.slow
def test_ctrl_c_during_grpo_saves_a_checkpoint_and_prints_the_resume_command(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "1000"}
    cmd = [sys.executable, str(ROOT / "train.py"), *TINY, "--run.output_dir", str(tmp_path)]
    cmd += ["--grpo.steps", "200", "--grpo.save_steps", "100", "--eval.before", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not list(tmp_path.glob("*/transcripts/step-*.jsonl")):  # GRPO is on
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = only_run(tmp_path)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    found = re.search(r"interrupted at step (\d+): saved (\S+)\. Resume with: python train\.py --resume (\S+)", out)
    assert found is not None, out[-2000:]
    step, saved, resume = found.groups()
    assert saved == str(run / f"checkpoint-{step}") and resume == str(run)
    assert checkpoint_problem(Path(saved)) is None  # finished and marked: a resume can use it


@pytest.mark.slow
def test_resume_skips_a_damaged_newest_checkpoint_and_starts_over_without_one(tmp_path):
    first = run_train(tmp_path, "--grpo.steps", "2", "--grpo.save_steps", "1", "--eval.before", "false")
    assert first.returncode == 0, first.stderr[-3000:]
    run = only_run(tmp_path)
    weights = run / "checkpoint-2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    resumed = run_train(tmp_path, "--resume", str(run), "--grpo.steps", "2", "--eval.after", "false")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "skipping checkpoint-2: model.safetensors is damaged (Error while deserializing header:" in resumed.stdout
    assert f"resuming from {run / 'checkpoint-1'}\n" in resumed.stdout
    for state in run.glob("checkpoint-*/arena_state.json"):  # as if killed before its first checkpoint
        state.unlink()
    again = run_train(tmp_path, "--resume", str(run), "--grpo.steps", "1", "--eval.after", "false")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (
        f"no intact checkpoint in {run}: GRPO starts from step 0 in this run directory (its finished warm-up is "
        "reused)\n"
    ) in again.stdout
    assert "format warm-up" not in again.stdout
