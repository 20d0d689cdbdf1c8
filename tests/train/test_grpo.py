"""A few real GRPO steps on CPU: weights change, metrics are logged, the run directory is complete, and a run
resumes from its checkpoints (also after being killed mid-way), and runs data-parallel on 2 processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("trl")

from tinyrun import ROOT, TINY, only_run, run_train  # noqa: E402


@pytest.mark.slow
def test_grpo_steps_change_weights_and_log_everything(tmp_path):
    from safetensors.torch import load_file

    proc = run_train(tmp_path, "--grpo.steps", "3", "--grpo.save_steps", "3", "--eval.every_steps", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = only_run(tmp_path)
    assert run.name.startswith("tictactoe__run__0__")
    for name in ("config.yaml", "eval_before.json", "eval_after.json", "learning_curves.png", "metrics.jsonl"):
        assert (run / name).exists(), name
    assert (run / "final" / "model.safetensors").exists() and (run / "checkpoint-3" / "arena_state.json").exists()
    assert sorted(p.name for p in (run / "transcripts").iterdir())[:2] == ["step-000000.jsonl", "step-000000.txt"]
    warm = load_file(run / "warmup" / "model.safetensors")
    final = load_file(run / "final" / "model.safetensors")
    assert any(not (warm[k] == final[k]).all() for k in warm), "GRPO did not change the weights"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*logged)
    for key in (
        "reward", "reward/outcome", "reward/format", "reward/invalid", "games/win_rate", "games/draw_rate",
        "games/loss_rate", "games/invalid_move_rate", "games/format_rate", "entropy", "exploration/temperature",
        "curriculum/weight/random", "rollout/generation_seconds", "eval/score_vs_random",
    ):  # fmt: skip
        assert key in keys, key
    after = json.loads((run / "eval_after.json").read_text())
    assert {"tier", "games", "wins", "draws", "losses", "score"} <= set(after["tiers"][0])
    assert "before vs after GRPO" in proc.stdout


@pytest.mark.slow
def test_resume_restores_step_and_curriculum(tmp_path):
    first = run_train(tmp_path, "--grpo.steps", "2", "--grpo.save_steps", "2", "--eval.before", "false")
    assert first.returncode == 0, first.stderr[-3000:]
    run = only_run(tmp_path)
    saved = json.loads((run / "checkpoint-2" / "arena_state.json").read_text())
    assert saved["step"] == 2 and saved["curriculum"]["games_seen"] == 16
    second = run_train(tmp_path, "--resume", str(run), "--grpo.steps", "4")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming from" in second.stdout and "format warm-up" not in second.stdout
    state = json.loads((run / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    resumed = json.loads((run / "checkpoint-4" / "arena_state.json").read_text())
    assert resumed["curriculum"]["games_seen"] == 32  # 16 restored + 16 new: the curriculum carried on


@pytest.mark.slow
def test_killed_run_resumes_losing_at_most_the_steps_since_its_checkpoint(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "train.py"), *TINY, "--run.output_dir", str(tmp_path)]
    cmd += ["--grpo.steps", "30", "--grpo.save_steps", "2", "--eval.before", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and not list(tmp_path.glob("*/checkpoint-4/arena_state.json")):
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run = only_run(tmp_path)
    from arena.training.checkpoints import newest_intact

    last, _ = newest_intact(run)
    assert last is not None and int(last.name.split("-")[1]) >= 4
    resumed = run_train(tmp_path, "--resume", str(run), "--grpo.steps", str(int(last.name.split("-")[1]) + 2))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {last}" in resumed.stdout.replace("\n", "")


@pytest.mark.slow
def test_two_process_data_parallel_run(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "train.py"), *TINY,
        "--run.output_dir", str(tmp_path), "--grpo.steps", "2", "--grpo.save_steps", "2",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = only_run(tmp_path)
    state = json.loads((run / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert (run / "eval_after.json").exists()


@pytest.mark.slow
def test_kl_anchor_to_the_warm_up_model_runs_and_resumes_with_the_embedded_model(tmp_path):
    """The tiny model is built in code, so TRL cannot load a reference from its name: the warm-up model is the
    reference, also after a resume. The turn-rollout exploration options and games played ahead ride along."""
    options = [
        "--grpo.beta", "0.1", "--grpo.rollout", "turn", "--grpo.pool_same_move", "true",
        "--grpo.generate_ahead", "true",
        "--grpo.continuation_temperature", "0", "--exploration.move_temperature", "2.0",
        "--grpo.scale_rewards", "none", "--grpo.entropy_target", "0.5", "--grpo.epsilon_high", "0.28",
        "--eval.before", "false", "--eval.after", "false", "--grpo.save_steps", "2",
    ]  # fmt: skip
    first = run_train(tmp_path, *options, "--grpo.steps", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    run = only_run(tmp_path)
    resumed = run_train(tmp_path, "--resume", str(run), "--grpo.steps", "3")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("kl" in row for row in logged) and not (run / "reference").exists()  # the warm-up folder served
