"""GRPO on a real chat model (SmolLM2-135M-Instruct, by its catalog name) on CPU: the warm-up on a few examples,
steps that change the weights, with and without LoRA, checkpoints, --resume, and evaluation of what was saved.

Kept to a step or two with short answers: each GRPO step of this model takes ~15 s on one core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from tinyrun import ROOT, only_run  # noqa: E402

SMOL = [
    "--model.name_or_path", "smollm2-135m",
    # two warm-up steps: the first runs at learning rate 0 (its schedule warms up from 0)
    "--warmup.steps", "2", "--warmup.games", "2", "--warmup.batch_size", "2",
    "--grpo.groups_per_step", "1", "--grpo.group_size", "2", "--grpo.max_new_tokens", "8",
    "--grpo.max_sequence_tokens", "512", "--grpo.logging_steps", "1", "--grpo.report_to", "none",
    "--grpo.save_steps", "1",
    "--eval.before", "false", "--eval.after", "false", "--eval.transcripts_every", "1",
    "--run.device", "cpu",
    # SmolLM2 never answers in the format zero-shot: a random move played for it lets a group's games (and so
    # its rewards) differ, so GRPO has an advantage to follow.
    "--env.invalid_move", "random",
]  # fmt: skip


def train(tmp_path, *extra):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    env["COLUMNS"] = "1000"
    cmd = [sys.executable, str(ROOT / "train.py"), *SMOL, "--run.output_dir", str(tmp_path), *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def global_step(checkpoint):
    return json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]


@pytest.mark.slow
def test_smollm2_warm_up_then_grpo_changes_every_weight_it_should_and_resumes(smollm2_folder, tmp_path):
    from safetensors.torch import load_file

    first = train(tmp_path, "--grpo.steps", "1")
    run = only_run(tmp_path)
    assert "format warm-up" in first.stdout and (run / "warmup" / "model.safetensors").exists()
    assert global_step(run / "checkpoint-1") == 1 and (run / "checkpoint-1" / "arena_state.json").exists()
    second = train(tmp_path, "--resume", str(run), "--grpo.steps", "2")
    assert "resuming from" in second.stdout and "format warm-up" not in second.stdout
    assert global_step(run / "checkpoint-2") == 2
    base, warm = load_file(smollm2_folder / "model.safetensors"), load_file(run / "warmup" / "model.safetensors")
    final = load_file(run / "final" / "model.safetensors")
    assert any(not (base[k] == warm[k]).all() for k in base), "the warm-up did not change the weights"
    assert any(not (warm[k] == final[k]).all() for k in warm), "GRPO did not change the weights"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [h["step"] for h in logged if "reward" in h] == [1, 2]  # one step before the resume, one after
    turns = json.loads((run / "transcripts" / "step-000000.jsonl").read_text().splitlines()[0])["turns"]
    assert turns and all(t["completion"] is not None for t in turns)


@pytest.mark.slow
def test_smollm2_lora_grpo_trains_the_adapter_resumes_and_evaluates(smollm2_folder, tmp_path, capsys):
    from safetensors.torch import load_file

    from arena.cli import main

    lora = ["--model.lora", "{r: 4, alpha: 8, dropout: 0.0}", "--warmup.enabled", "false"]
    train(tmp_path, *lora, "--grpo.steps", "1", "--grpo.learning_rate", "1e-3")
    run = only_run(tmp_path)
    assert (run / "checkpoint-1" / "adapter_model.safetensors").exists()
    assert not (run / "checkpoint-1" / "model.safetensors").exists()  # LoRA saves the adapter only
    second = train(tmp_path, *lora, "--resume", str(run), "--grpo.steps", "2")
    assert "resuming from" in second.stdout and global_step(run / "checkpoint-2") == 2
    adapter = load_file(run / "final" / "adapter_model.safetensors")
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b), "the adapter (lora_B starts at zero) did not train"
    # arena eval reads an adapter folder: its base model by name, with the adapter merged in.
    out = tmp_path / "eval"
    code = main(
        ["eval", "--player", f"model:{run}", "--tiers", "random", "--games", "2", "--max-new-tokens", "8"]
        + ["--temperature", "0", "--no-progress", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["tiers"][0]["games"] == 2
