"""Calibration only (never a training recipe): how fast does the turn-GRPO update learn when its labels are perfect?

    python benchmarks/calib_grpo_update.py --model <warm-up folder | tiny> [--groups 16] [--size 4] [--lr 3e-4]
                                           [--invalid -0.1] [--steps 560] [--every 140] [--seed 0] [--out PATH]
                                           [--positions uniform|random-play] [--informative-only] [--beta 0]

The main job's update without its play-outs: each step asks `--groups` positions, drawn uniformly from every
non-terminal tic-tac-toe position (4,520), or with `--positions random-play` as turn rollouts draw their random
positions (the empty board plus 0-8 uniformly random plies; the opponent's reply is not added). Each group tries
`--size` moves the way `grpo.distinct_moves` does (the policy's own sample first, over every cell, then untried
legal moves drawn from the policy without replacement) and scores each by its solved value in the env's default
rewards (win 1, draw 0.5, loss 0; an occupied cell `--invalid`, by default a forfeit plus the invalid-move
penalty, -0.1), where training scores it by a play-out. Advantages are normalised within the group (TRL's
`scale_rewards: group`), the loss is the advantage-weighted log-probability of each tried move (the move token
only), AdamW at a constant learning rate, gradients clipped at 1.0 (as the main job). With `--informative-only` a
step keeps drawing positions until it has `--groups` whose tried moves differ in value (DAPO's dynamic sampling:
a group whose rewards are all equal has no advantage), up to four times `--groups` draws. With `--beta` the loss adds
a KL anchor to the starting model, as `grpo.beta` does: beta times TRL's per-token estimator
exp(r - l) - (r - l) - 1 on each tried move, l and r its log-probability under the policy and the frozen start.

Every `--every` steps the greedy move (the most likely cell) of every position is scored: the share that keeps
the solved value (win, draw or loss; a random legal move scores about 0.5) and the share on an occupied cell. If
this curve is slow, better rewards cannot make training fast; what the update is given per step (positions,
moves per position) and how many steps it gets can.

`--model`: the warm-up folder of a main-job run (`python train.py --config configs/tictactoe-tiny-cpu.yaml
--grpo.steps 1 --eval.before false --eval.after false`, then `<run>/warmup`), or `tiny` for the untrained model.
Prints a table; writes JSON (default benchmarks/results/calib_grpo_update.json).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _machine import machine
from calib_supervised import move_logits, positions, random_play
from rich.console import Console
from rich.table import Table

from arena.env import TextGameEnv
from arena.games.tictactoe import TicTacToe
from arena.rewards import RewardConfig
from arena.training.config import load_train_config
from arena.training.grpo import load_model
from arena.training.rollout import ChatFormatter
from opponents.minimax import Minimax, is_loss, is_win


def solved_outcome(value: int, rewards: RewardConfig) -> float:
    """The outcome reward of a move whose solved value (`Minimax.move_values`) is `value`."""
    return rewards.win if is_win(value) else rewards.loss if is_loss(value) else rewards.draw


def tried_moves(probs: np.ndarray, legal: list[int], size: int, rng: np.random.Generator) -> list[int]:
    """The policy's own sample over every cell, then untried legal moves drawn from the policy without replacement."""
    tried = [int(rng.choice(len(probs), p=probs / probs.sum()))]
    rest = [m for m in legal if m != tried[0]]
    while len(tried) < size and rest:
        weights = np.array([probs[m] for m in rest]) + 1e-12
        tried.append(rest.pop(int(rng.choice(len(rest), p=weights / weights.sum()))))
    return tried


def group_terms(
    logp: torch.Tensor, ref_logp: torch.Tensor, rewards: np.ndarray, tried: list[int], beta: float
) -> list[torch.Tensor]:
    """One group's loss terms, one per tried move: minus its group-scaled advantage times its log-probability, plus
    beta times TRL's KL estimator exp(r - l) - (r - l) - 1 (l, r: the move's log-probability under the policy and
    under the frozen start; zero where they agree)."""
    advantages = (rewards - rewards.mean()) / (rewards.std(ddof=1) + 1e-4)  # TRL's group scaling
    terms = []
    for m, a in zip(tried, advantages, strict=True):
        gap = ref_logp[m] - logp[m]
        terms.append(-float(a) * logp[m] + beta * (torch.exp(gap) - gap - 1))
    return terms


def random_play_position(game: TicTacToe, rng: np.random.Generator) -> Any:
    """The empty board plus 0-8 uniformly random legal plies (turn rollouts' random positions); None if it ended."""
    state, _ = random_play(game, 8, rng)
    return None if game.is_over(state) else state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a warm-up folder, or 'tiny' (untrained)")
    parser.add_argument("--groups", type=int, default=16, help="positions per step (grpo.groups_per_step)")
    parser.add_argument("--size", type=int, default=4, help="moves tried per position (grpo.group_size)")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument(
        "--invalid", type=float, default=None, help="reward of an occupied cell (default: a loss plus the penalty)"
    )
    parser.add_argument("--steps", type=int, default=560)
    parser.add_argument("--every", type=int, default=140)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/...)")
    parser.add_argument(
        "--positions", choices=("uniform", "random-play"), default="uniform", help="where the positions come from"
    )
    parser.add_argument(
        "--informative-only", action="store_true", help="train only on groups whose tried moves differ in value"
    )
    parser.add_argument("--beta", type=float, default=0.0, help="KL anchor to the starting model (grpo.beta)")
    args = parser.parse_args()
    if args.size < 2 or args.groups < 1 or args.steps < 1 or args.every < 1:
        parser.error("--size needs at least 2 moves (a group compares them); --groups, --steps, --every at least 1")

    rewards = RewardConfig()  # the env's defaults, as the main job's
    invalid = rewards.loss + rewards.invalid_penalty if args.invalid is None else args.invalid
    game, rng = TicTacToe(), np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    solver = Minimax(game)
    overrides = {"model.name_or_path": args.model, "model.tiny_seed": args.seed}
    model, tokenizer = load_model(load_train_config(None, overrides))  # the trainer's loader: tiny or a folder
    env, chat = TextGameEnv("tictactoe"), ChatFormatter(tokenizer)
    answer = env.config.answer
    opening = chat.encode(f"<{answer.think_tag}></{answer.think_tag}>\n<{answer.move_tag}>")
    digits = [tokenizer.convert_tokens_to_ids(str(m)) for m in range(9)]
    data = []  # (prompt ids, legal moves, solved outcome of each legal move)
    every = positions(game)
    index = {game.key(state): i for i, state in enumerate(every)}
    for state in every:
        values = solver.move_values(state)
        outcome = {m: solved_outcome(v, rewards) for m, v in values.items()}
        data.append((chat.prompt_ids(env.messages_for(state)) + opening, game.legal_moves(state), outcome))

    pad = tokenizer.pad_token_id
    reference = copy.deepcopy(model).eval() if args.beta else None

    def draw(n: int) -> list[int]:
        """Indices into `data` of `n` positions, drawn as `--positions` says."""
        if args.positions == "uniform":
            return [int(i) for i in rng.integers(len(data), size=n)]
        picks: list[int] = []
        while len(picks) < n:
            state = random_play_position(game, rng)
            if state is not None:
                picks.append(index[game.key(state)])
        return picks

    def score() -> tuple[float, float]:
        model.eval()
        kept = occupied = 0
        with torch.no_grad():
            for start in range(0, len(data), 512):
                rows = data[start : start + 512]
                picks = move_logits(model, pad, [r[0] for r in rows], digits).argmax(-1)
                for pick, (_, legal, outcome) in zip(picks.tolist(), rows, strict=True):
                    occupied += pick not in legal
                    kept += pick in legal and outcome[pick] == max(outcome.values())
        model.train()
        return kept / len(data), occupied / len(data)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    model.train()
    start_kept, start_occupied = score()
    curve = [{"step": 0, "seconds": 0.0, "positions": 0, "drawn": 0, "optimal": start_kept, "occupied": start_occupied}]
    started = time.perf_counter()
    drawn_total = trained = 0
    for step in range(1, args.steps + 1):
        groups: list[tuple[torch.Tensor, torch.Tensor, dict[int, float], list[int]]] = []  # (log-probs, the
        # reference's log-probs, outcomes, moves tried)
        drawn = 0  # this step's positions, informative or not
        while len(groups) < args.groups and drawn < (4 if args.informative_only else 1) * args.groups:
            batch = [data[i] for i in draw(args.groups)]
            drawn += len(batch)
            drawn_total += len(batch)
            logp = torch.log_softmax(move_logits(model, pad, [r[0] for r in batch], digits), -1)
            ref_logp = logp.detach()
            if reference is not None:
                with torch.no_grad():
                    ref_logp = torch.log_softmax(move_logits(reference, pad, [r[0] for r in batch], digits), -1)
            probs = logp.detach().exp().double().numpy()
            for (_, legal, outcome), row_logp, row_ref, p in zip(batch, logp, ref_logp, probs, strict=True):
                tried = tried_moves(p, list(legal), args.size, rng)
                informative = len({outcome.get(m, invalid) for m in tried}) > 1
                if len(groups) < args.groups and (informative or not args.informative_only):
                    groups.append((row_logp, row_ref, outcome, tried))
        trained += len(groups)
        terms = []
        for row_logp, row_ref, outcome, tried in groups:
            if len(tried) < 2:  # one legal move, and the policy played it: nothing to compare
                continue
            rewards = np.array([outcome.get(m, invalid) for m in tried])
            terms += group_terms(row_logp, row_ref, rewards, tried, args.beta)
        if terms:
            optimizer.zero_grad()
            torch.stack(terms).mean().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        if step % args.every == 0 or step == args.steps:
            kept, occupied = score()
            seconds = time.perf_counter() - started
            point = {"step": step, "seconds": seconds, "positions": trained, "drawn": drawn_total}
            curve.append({**point, "optimal": kept, "occupied": occupied})
            print(f"step {step}: optimal {kept:.3f}, occupied cell {occupied:.3f}", flush=True)

    title = f"GRPO update with solved values: {args.groups} positions x {args.size} moves a step, lr {args.lr:g}"
    title += f", KL anchor {args.beta:g}" if args.beta else ""
    table = Table(title=f"{title} ({machine()['cores']} cores)")
    for column in ("step", "positions", "seconds", "optimal", "occupied cell"):
        table.add_column(column, justify="right")
    for p in curve:
        numbers = (f"{p['seconds']:.0f}", f"{p['optimal']:.3f}", f"{p['occupied']:.3f}")
        table.add_row(str(p["step"]), str(p["positions"]), *numbers)
    Console().print(table)
    out = args.out or Path(__file__).parent / "results" / "calib_grpo_update.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "args": {**vars(args), "out": str(out)}, "curve": curve}))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
