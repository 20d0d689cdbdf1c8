"""Format warm-up: a short supervised stage (TRL's SFTTrainer) on synthetic games of random legal moves.

Every answer is a templated `<think>` (the side to move, or the list of legal moves) then a uniformly random
legal move, so the model learns the answer format and nothing about which move is good: all skill measured
afterwards comes from RL.
Each example is one whole game, tokenized exactly as a GRPO rollout lays it out (answers and env replies in
turn), with loss on the answers only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from arena.env import EnvConfig, TextGameEnv

from .rollout import ChatFormatter


def think_text(style: str, legal_moves: list[int], symbol: str) -> str:
    """The templated reasoning of the warm-up; nothing in it hints at a good move.

    'side' names the side to move ("You play X."); 'legal_moves' lists the legal moves; 'empty' is nothing.
    """
    if style == "empty":
        return ""
    if style == "legal_moves":
        return " ".join(str(m) for m in legal_moves)
    return f"You play {symbol}."


def warmup_examples(
    game: str,
    env_config: EnvConfig,
    tokenizer: Any,
    games: int,
    seed: int,
    game_kwargs: dict | None = None,
    think: str = "side",
    per_turn: bool = False,
) -> list[dict[str, list[int]]]:
    """Tokenized games against mixed scripted opponents, laid out exactly as GRPO rollouts are: whole games (the
    first prompt, then each answer and env reply) or, with `per_turn`, one example per answer with the current
    prompt alone. `completion_mask` is 1 on the answers only."""
    env = TextGameEnv(game, config=env_config, game_kwargs=game_kwargs)
    chat = ChatFormatter(tokenizer)
    fmt = env_config.answer
    rng = np.random.default_rng(seed)
    tiers = ("random", "noisy-0.5", "depth-1")
    examples: list[dict[str, list[int]]] = []
    for i in range(games):
        _, info = env.reset(
            seed=int(rng.integers(2**31)),
            options={"opponent": tiers[i % len(tiers)], "agent_seat": ("first", "second")[i % 2]},
        )
        ids = chat.prompt_ids(info["messages"])
        mask = [0] * len(ids)
        done = False
        while not done:
            legal = info["legal_moves"]
            answer = fmt.example(think_text(think, legal, env.renderer.symbol(env.seat)), int(rng.choice(legal)))
            # The answer ends the turn with the end-of-turn token, as a chat model's answer does, so any
            # generation backend (vLLM, a server, evaluation) stops there.
            answer_ids = chat.encode(answer) + [tokenizer.eos_token_id]
            messages = info["messages"]
            if per_turn:
                prompt = chat.prompt_ids(messages)
                examples.append(
                    {"input_ids": prompt + answer_ids, "completion_mask": [0] * len(prompt) + [1] * len(answer_ids)}
                )
            ids += answer_ids
            mask += [1] * len(answer_ids)
            obs, _, terminated, truncated, info = env.step(answer)
            done = terminated or truncated
            if not done:
                reply = chat.reply_ids(messages, answer, obs, ended_turn=True)
                ids += reply
                mask += [0] * len(reply)
        if not per_turn:
            examples.append({"input_ids": ids, "completion_mask": mask})
    return examples


def run_warmup(model: Any, tokenizer: Any, config: Any, output_dir: str) -> dict[str, float]:
    """Train `model` in place on warm-up examples; returns the final training loss and the time taken."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    w = config.warmup
    rows = warmup_examples(
        config.game,
        config.env,
        tokenizer,
        w.games,
        config.run.seed,
        config.game_kwargs,
        think=w.think,
        per_turn=config.grpo.rollout == "turn",
    )
    dataset = Dataset.from_list(rows).shuffle(seed=config.run.seed)
    args = SFTConfig(
        output_dir=output_dir,
        max_steps=w.steps,
        per_device_train_batch_size=w.batch_size,
        learning_rate=w.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, w.steps // 20),
        logging_steps=max(1, w.steps // 10),
        save_strategy="no",
        report_to=[],
        seed=config.run.seed,
        use_cpu=config.run.device == "cpu" or not _cuda(),
        bf16=False,
        max_length=config.grpo.max_sequence_tokens,
        completion_only_loss=True,
        gradient_checkpointing=config.grpo.gradient_checkpointing,  # TRL turns it on by default: slower on CPU
        disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    result = trainer.train()
    return {"loss": float(result.training_loss), "seconds": float(result.metrics.get("train_runtime", 0.0))}


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
