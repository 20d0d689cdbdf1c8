"""Save a randomly initialised Qwen2 model of a real model's shape, with the embedded tiny tokenizer.

    python benchmarks/make_sized_model.py --size 0.5b --out /tmp/qwen2-0.5b-shape

No hub is needed: the point is throughput at a real model's size (its answers are noise, so every turn runs
to `max_new_tokens`, the worst case), for `bench_train.py --model.name_or_path <out>`.
"""

from __future__ import annotations

import argparse

SHAPES = {  # hidden, layers, heads, kv heads, intermediate (Qwen2.5 family)
    "0.5b": (896, 24, 14, 2, 4864),
    "1.5b": (1536, 28, 12, 2, 8960),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SHAPES), default="0.5b")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from arena.models.tiny import build_tokenizer

    tokenizer = build_tokenizer()
    hidden, layers, heads, kv, inter = SHAPES[args.size]
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        num_key_value_heads=kv, intermediate_size=inter, max_position_embeddings=4096, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(f"{args.size}-shaped model: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters -> {args.out}")


if __name__ == "__main__":
    main()
