"""Calibration only (never a training recipe): how fast can the embedded tiny model learn tic-tac-toe at all?

    python benchmarks/calib_supervised.py [--layout board_first] [--steps 800] [--lr 1e-3] [--hidden 128]
                                          [--layers 4] [--init 0.1] [--batch 64] [--every 100] [--seed 0]

Supervised learning with the best possible labels: every non-terminal tic-tac-toe position (4,520) is a prompt,
and the label is one of `perfect`'s optimal moves. Loss on the move token alone. Every `--every` steps the model
is scored on all positions: the share where its most likely move is optimal (a uniformly random legal move
scores 0.49). This bounds what RL can reach in the same number of optimizer steps, since RL's labels are noisier.
`--layout` changes how the board is written: `board_first` (the env's prompt), `board_last`, `no_legal` (without
the legal-move list) and `lines` (the 8 lines spelled out as well); `--hidden`, `--layers` and `--init` (the std of
the initial weights) change the model's shape and initialisation. Prints a table; writes
benchmarks/results/calib_supervised-<layout>.json (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _machine import machine
from rich.console import Console
from rich.table import Table

from arena.games.tictactoe import TicTacToe
from arena.models.tiny import INIT_STD, build_tiny_model, chat_template
from arena.text import turn_status
from arena.training.rollout import ChatFormatter
from opponents.minimax import Minimax

LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))


def positions(game: TicTacToe) -> list:
    """Every non-terminal position reachable from the empty board."""
    seen, stack = {}, [game.initial_state()]
    while stack:
        state = stack.pop()
        if game.key(state) in seen or game.is_over(state):
            continue
        seen[game.key(state)] = state
        stack.extend(game.apply(state, m) for m in game.legal_moves(state))
    return list(seen.values())


def move_logits(model, pad_id: int, prompts: list[list[int]], digits: list[int]) -> torch.Tensor:
    """The model's logits for the move token (restricted to `digits`) after each prompt, left-padded as a batch."""
    width = max(len(ids) for ids in prompts)
    input_ids = torch.full((len(prompts), width), pad_id)
    attention = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, ids in enumerate(prompts):
        input_ids[i, width - len(ids) :], attention[i, width - len(ids) :] = torch.tensor(ids), 1
    position_ids = (attention.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention, position_ids=position_ids).logits
    return logits[:, -1, digits]


def prompt_text(game: TicTacToe, state, layout: str) -> str:
    cells = [("X", "O")[c] if c in (0, 1) else str(i) for i, c in enumerate(state.cells)]
    board = "\n".join(" ".join(cells[3 * r : 3 * r + 3]) for r in range(3))
    symbol, legal = ("X", "O")[game.to_move(state)], game.legal_moves(state)
    if layout == "board_last":
        return f"{turn_status(symbol, legal)}\n{board}"
    if layout == "no_legal":
        return f"{board}\nYou play {symbol}."
    if layout == "lines":
        return (
            board
            + "\n"
            + "\n".join(" ".join(cells[i] for i in line) for line in LINES)
            + "\n"
            + turn_status(symbol, legal)
        )
    return f"{board}\n{turn_status(symbol, legal)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=("board_first", "board_last", "no_legal", "lines"), default="board_first")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--init", type=float, default=INIT_STD, help="std of the initial weights")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/...)")
    args = parser.parse_args()

    import transformers

    game, rng = TicTacToe(), np.random.default_rng(args.seed)
    solver = Minimax(game)
    model, tokenizer = build_tiny_model(seed=args.seed, init_std=args.init)
    if (args.hidden, args.layers) != (128, 4):
        c, heads = model.config, max(2, args.hidden // 32)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(args.seed)
            model = transformers.Qwen2ForCausalLM(
                transformers.Qwen2Config(
                    vocab_size=c.vocab_size, hidden_size=args.hidden, intermediate_size=3 * args.hidden,
                    num_hidden_layers=args.layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                    max_position_embeddings=c.max_position_embeddings, tie_word_embeddings=True,
                    initializer_range=args.init,
                    pad_token_id=c.pad_token_id, eos_token_id=c.eos_token_id,
                )
            )  # fmt: skip
    tokenizer.chat_template = chat_template(legal_moves=True)  # each layout as written, its list of legal moves kept
    chat = ChatFormatter(tokenizer)
    digits = [tokenizer.convert_tokens_to_ids(str(m)) for m in range(9)]
    data = []
    for state in positions(game):
        symbol = ("X", "O")[game.to_move(state)]
        ids = chat.prompt_ids([{"role": "user", "content": prompt_text(game, state, args.layout)}])
        ids += chat.encode(f"<think>You play {symbol}.</think>\n<move>")
        data.append((ids, solver.best_moves(state)))

    def accuracy() -> float:
        model.eval()
        with torch.no_grad():
            hits = 0
            for start in range(0, len(data), 512):
                rows = data[start : start + 512]
                picks = move_logits(model, tokenizer.pad_token_id, [ids for ids, _ in rows], digits).argmax(-1)
                hits += sum(pick in best for pick, (_, best) in zip(picks.tolist(), rows, strict=True))
        model.train()
        return hits / len(data)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    warm = max(1, args.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: min(1.0, (t + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(t, args.steps) / args.steps))
    )  # the warm-up's schedule: linear warm-up, cosine decay
    torch.manual_seed(args.seed)
    model.train()
    curve, started = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        rows = [data[i] for i in rng.integers(len(data), size=args.batch)]
        targets = torch.tensor([int(rng.choice(best)) for _, best in rows])
        logits = move_logits(model, tokenizer.pad_token_id, [ids for ids, _ in rows], digits)
        loss = torch.nn.functional.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % args.every == 0 or step == args.steps:
            curve.append({"step": step, "seconds": time.perf_counter() - started, "accuracy": accuracy()})
            print(f"step {step}: optimal-move accuracy {curve[-1]['accuracy']:.3f}", flush=True)

    table = Table(title=f"supervised calibration, layout {args.layout} ({machine()['cores']} cores)")
    for column in ("step", "examples", "seconds", "optimal-move accuracy"):
        table.add_column(column, justify="right")
    for p in curve:
        table.add_row(str(p["step"]), str(p["step"] * args.batch), f"{p['seconds']:.0f}", f"{p['accuracy']:.3f}")
    Console().print(table)
    out = args.out or Path(__file__).parent / "results" / f"calib_supervised-{args.layout}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"machine": machine(), "args": {**vars(args), "out": str(out)}, "positions": len(data), "curve": curve}
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
