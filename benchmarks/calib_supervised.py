"""Calibration only (never a training recipe): how fast can the embedded tiny model learn a game's moves at all?

    python benchmarks/calib_supervised.py [--layout board_first] [--steps 800] [--lr 1e-3] [--hidden 128]
                                          [--layers 4] [--init 0.1] [--batch 64] [--every 100] [--seed 0]
    python benchmarks/calib_supervised.py --game connect_four [--layout columns] [--positions 12000]
                                          [--teacher-depth 2] [...]

Supervised learning with the best possible labels: every non-terminal tic-tac-toe position (4,520) is a prompt,
and the label is one of `perfect`'s optimal moves. Loss on the move token alone. Every `--every` steps the model
is scored on all positions: the share where its most likely move is optimal (a uniformly random legal move
scores 0.49). This bounds what RL can reach in the same number of optimizer steps, since RL's labels are noisier.
`--layout` changes how the board is written: `board_first` (the env's prompt), `board_last`, `no_legal` (without
the legal-move list) and `lines` (the 8 lines spelled out as well); `--hidden`, `--layers` and `--init` (the std of
the initial weights) change the model's shape and initialisation. Prints a table; writes
benchmarks/results/calib_supervised-<layout>.json (or `--out`).

With `--game connect_four` the positions are `--positions` distinct boards reached by 0-30 uniformly random plies,
each written as the env's prompt reads to the tiny model (the connect four preset's answer opening, an empty think
block, appended). The label is one of the best moves of a `--teacher-depth` minimax (depth 2: take a win in one,
else avoid a move that lets the opponent win at once, else any legal move). A tenth of the positions is held out
and scored: the share where the most likely move is a best move, the share of positions with a full column where it
is legal, and the share of tactical positions (a win in one to take, or a move that lets the opponent win at once)
where it is sound (a win if there is one, else a move the search does not prove lost), each next to a uniformly
random legal move's share. `--layout columns` writes the board column by column instead (the env's
`board_layout: columns`: a line a column, its number, then its cells from the bottom). Writes
benchmarks/results/calib_supervised-connect_four.json (or `-columns.json`; or `--out`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _machine import machine
from rich.console import Console
from rich.table import Table

from arena.env import TextGameEnv
from arena.games.tictactoe import TicTacToe
from arena.models.tiny import INIT_STD, build_tiny_model, chat_template
from arena.text import turn_status
from arena.training.rollout import ChatFormatter
from opponents.minimax import Minimax, is_loss, is_win

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


def random_play(game: Any, max_plies: int, rng: np.random.Generator) -> tuple[Any, list[int]]:
    """The start plus 0 to `max_plies` uniformly random legal plies (stopping where the game ends), and the moves."""
    state, moves = game.initial_state(), []
    for _ in range(int(rng.integers(0, max_plies + 1))):
        legal = game.legal_moves(state)
        move = int(legal[int(rng.integers(len(legal)))])
        state, moves = game.apply(state, move), [*moves, move]
        if game.is_over(state):
            break
    return state, moves


def random_play_positions(game: Any, count: int, max_plies: int, rng: np.random.Generator) -> list[list[int]]:
    """The moves of `count` distinct `random_play` positions that are not over (fewer if they run out)."""
    seen: dict[Any, list[int]] = {}
    for _ in range(50 * count):
        if len(seen) == count:
            break
        state, moves = random_play(game, max_plies, rng)
        if not game.is_over(state):
            seen.setdefault(game.key(state), moves)
    return list(seen.values())


def sound_moves(values: dict[int, int]) -> tuple[int, ...]:
    """The moves a search proves best: the wins if there are any, else those not proven lost (all, if every one is)."""
    wins = tuple(m for m, v in values.items() if is_win(v))
    safe = tuple(m for m, v in values.items() if not is_loss(v))
    return tuple(sorted(wins or safe or values))


def connect_four_data(
    tokenizer: Any, count: int, teacher_depth: int, rng: np.random.Generator, layout: str = "board_first"
) -> list[tuple]:
    """(prompt ids with the answer opening, the teacher's best moves, the legal moves, the sound moves) of
    random-play positions, in the env's prompt; `layout` columns is its board_layout columns."""
    env = TextGameEnv(game="connect_four", opponent="random", board_layout="columns" if layout == "columns" else None)
    game, chat = env.game, ChatFormatter(tokenizer)
    answer = env.config.answer
    opening = chat.encode(f"<{answer.think_tag}></{answer.think_tag}>\n<{answer.move_tag}>")
    teacher = Minimax(game, depth=teacher_depth)
    data = []
    for moves in random_play_positions(game, count, 30, rng):
        seat = ("first", "second")[len(moves) % 2]  # the agent is the side to move: no opponent reply at reset
        _, info = env.reset(seed=0, options={"start": moves, "agent_seat": seat})
        state = env.state
        best, sound = teacher.best_moves(state), sound_moves(teacher.move_values(state))
        data.append((chat.prompt_ids(info["messages"]) + opening, best, tuple(info["legal_moves"]), sound))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    layouts = ("board_first", "board_last", "no_legal", "lines", "columns")
    parser.add_argument("--layout", choices=layouts, default="board_first")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--init", type=float, default=INIT_STD, help="std of the initial weights")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/...)")
    parser.add_argument("--game", choices=("tictactoe", "connect_four"), default="tictactoe")
    parser.add_argument("--positions", type=int, default=12000, help="connect four: random-play positions drawn")
    parser.add_argument("--teacher-depth", type=int, default=2, help="connect four: the labelling minimax's depth")
    args = parser.parse_args()
    connect_four = args.game == "connect_four"
    own_layouts = ("board_first", "columns") if connect_four else ("board_first", "board_last", "no_legal", "lines")
    if args.layout not in own_layouts:
        parser.error("--layout columns is connect four's; board_last, no_legal and lines are tic-tac-toe's")
    if connect_four and (args.positions < 20 or args.teacher_depth < 1):
        parser.error("--positions must be at least 20 (a tenth is held out) and --teacher-depth at least 1")

    import transformers

    rng = np.random.default_rng(args.seed)
    model, tokenizer = build_tiny_model(seed=args.seed, game=args.game, init_std=args.init)
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
    if connect_four:
        data = connect_four_data(tokenizer, args.positions, args.teacher_depth, rng, args.layout)
        held_out, data = data[: len(data) // 10], data[len(data) // 10 :]
    else:
        game = TicTacToe()
        solver = Minimax(game)
        tokenizer.chat_template = chat_template(legal_moves=True)  # each layout as written, its legal moves kept
        chat = ChatFormatter(tokenizer)
        data = []
        for state in positions(game):
            symbol = ("X", "O")[game.to_move(state)]
            ids = chat.prompt_ids([{"role": "user", "content": prompt_text(game, state, args.layout)}])
            ids += chat.encode(f"<think>You play {symbol}.</think>\n<move>")
            best = solver.best_moves(state)
            data.append((ids, best, tuple(game.legal_moves(state)), best))
        held_out = data  # every position is scored
    digits = [tokenizer.convert_tokens_to_ids(str(m)) for m in range(9 if not connect_four else 7)]
    width = len(digits)
    # The subsets scored for connect four, and what a uniformly random legal move scores on each.
    blocked = [i for i, (_, _, legal, _) in enumerate(held_out) if len(legal) < width]  # a full column
    tactical = [i for i, (_, _, legal, sound) in enumerate(held_out) if len(sound) < len(legal)]
    chance = {
        "accuracy": float(np.mean([len(best) / len(legal) for _, best, legal, _ in held_out])),
        "legal": 1.0,
        "tactical": float(np.mean([len(held_out[i][3]) / len(held_out[i][2]) for i in tactical])) if tactical else 0.0,
    }

    def picks(rows: list) -> list[int]:
        out: list[int] = []
        for start in range(0, len(rows), 512):
            batch = [row[0] for row in rows[start : start + 512]]
            out += move_logits(model, tokenizer.pad_token_id, batch, digits).argmax(-1).tolist()
        return out

    def accuracy() -> dict[str, float]:
        """The share of scored positions where the most likely move is a best one (and, for connect four, the
        share of positions with a full column where it is legal, and of tactical ones where it is sound)."""
        model.eval()
        with torch.no_grad():
            chosen = picks(held_out)
        model.train()
        best = [chosen[i] in row[1] for i, row in enumerate(held_out)]
        hits = {"accuracy": best}
        if connect_four:
            hits["legal"] = [chosen[i] in held_out[i][2] for i in blocked]
            hits["tactical"] = [chosen[i] in held_out[i][3] for i in tactical]
        return {name: float(np.mean(h)) if h else 0.0 for name, h in hits.items()}

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
        targets = torch.tensor([int(rng.choice(row[1])) for row in rows])
        logits = move_logits(model, tokenizer.pad_token_id, [row[0] for row in rows], digits)
        loss = torch.nn.functional.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % args.every == 0 or step == args.steps:
            curve.append({"step": step, "seconds": time.perf_counter() - started, **accuracy()})
            shares = ", ".join(f"{name} {curve[-1][name]:.3f}" for name in chance if name in curve[-1])
            print(f"step {step}: {shares}", flush=True)

    names = [name for name in chance if name in curve[-1]]
    if connect_four:
        title = f"supervised calibration, connect four, depth-{args.teacher_depth} labels, {len(held_out)} held out"
        headers = {"accuracy": "best move", "legal": "legal (full column)", "tactical": "sound (tactical)"}
    else:
        title, headers = f"supervised calibration, layout {args.layout}", {"accuracy": "optimal-move accuracy"}
    table = Table(title=f"{title} ({machine()['cores']} cores)")
    for column in ("step", "examples", "seconds", *(headers[name] for name in names)):
        table.add_column(column, justify="right")
    for p in curve:
        shares = (f"{p[name]:.3f}" for name in names)
        table.add_row(str(p["step"]), str(p["step"] * args.batch), f"{p['seconds']:.0f}", *shares)
    if connect_four:
        table.add_row("random legal move", "", "", *(f"{chance[name]:.3f}" for name in names))
    Console().print(table)
    name = f"{args.game}{'-columns' if args.layout == 'columns' else ''}" if connect_four else args.layout
    out = args.out or Path(__file__).parent / "results" / f"calib_supervised-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "args": {**vars(args), "out": str(out)}, "positions": len(data), "curve": curve}
    if connect_four:
        result |= {"held_out": len(held_out), "full_column": len(blocked), "tactical": len(tactical), "chance": chance}
    out.write_text(json.dumps(result))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
