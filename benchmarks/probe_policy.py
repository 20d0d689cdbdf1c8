"""What a model's greedy policy does on every tic-tac-toe position: tactics, or a fixed ranking of cells?

    python benchmarks/probe_policy.py MODEL [MODEL ...] [--out benchmarks/results/probe_policy.json]

MODEL is what `arena eval --player` takes (`model:<folder or run directory>`, `tiny`, a tier such as `perfect`).
The player answers every non-terminal position reachable from the empty board (4,520), each as its own prompt
(the env's system and user turn, as turn rollouts and `arena eval` show it), greedily. Reported per model:

- optimal: share of positions where its move keeps the solved value (probe `random` for the chance level);
- win-in-1 / must-block: share of the positions with an immediate win (or with a block needed and no win)
  where it took the win (or blocked), judged like `arena eval`'s move quality;
- invalid: share of answers with no legal move (a format error counts, as in `arena eval`);
- fixed order: the best single ranking of the cells ("the first free cell of 4, 8, 2, ...") found greedily,
  and the share of its moves that ranking explains. Near 1.0 means the policy hardly reads the board beyond
  which cells are free: it has learned where to play on average, not what the position needs.

Prints a table; writes JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _machine import machine
from calib_supervised import positions
from rich.console import Console
from rich.table import Table

from arena.env import TextGameEnv
from arena.evaluation.players import Turn, make_player
from arena.evaluation.quality import MoveJudge
from arena.text import parse_answers


def best_fixed_order(legal: list[tuple[int, ...]], moves: list[int | None], cells: int) -> tuple[list[int], float]:
    """The cell ranking whose first free cell matches the most moves, built greedily one cell at a time."""
    order: list[int] = []

    def explained(candidate: list[int]) -> float:
        hits = 0
        for free, move in zip(legal, moves, strict=True):
            pick = next((c for c in candidate if c in free), None)
            hits += pick is not None and pick == move
        return hits / len(moves)

    for _ in range(cells):
        order.append(max((c for c in range(cells) if c not in order), key=lambda c: explained([*order, c])))
    return order, explained(order)


def probe(spec: str, env: TextGameEnv, states: list, judge: MoveJudge, batch_size: int) -> dict:
    game = env.game
    player = make_player(spec, game, answer=env.config.answer, temperature=0.0, batch_size=batch_size)
    rng = np.random.default_rng(0)
    try:
        turns = [Turn(env.messages_for(s), s, tuple(game.legal_moves(s)), rng) for s in states]
        batch = parse_answers(player.act(turns), env.config.answer)
    finally:
        player.close()
    legal = [t.legal_moves for t in turns]
    # As `arena eval` scores answers (strict): a format error or an illegal move is no move.
    readable = batch.has_move & batch.format_ok
    moves = [
        int(m) if ok and int(m) in free else None for m, ok, free in zip(batch.moves, readable, legal, strict=True)
    ]
    optimal = wins = win_chances = blocks = block_chances = 0
    for state, move in zip(states, moves, strict=True):
        if move is None:
            continue
        verdict = judge.judge(state, move)
        optimal += verdict.blunder is False
        win_chances += verdict.win_chance
        wins += verdict.win_chance and not verdict.missed_win
        block_chances += verdict.block_chance
        blocks += verdict.block_chance and not verdict.missed_block
    order, share = best_fixed_order(legal, moves, game.info.num_moves)
    return {
        "player": spec,
        "positions": len(states),
        "optimal": optimal / len(states),
        "win_in_1": wins / max(1, win_chances),
        "must_block": blocks / max(1, block_chances),
        "invalid": sum(m is None for m in moves) / len(states),
        "fixed_order": order,
        "fixed_order_share": share,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("players", nargs="+", help="what `arena eval --player` takes, e.g. model:runs/<run>/final")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "probe_policy.json")
    args = parser.parse_args()

    env = TextGameEnv(game="tictactoe", opponent="random")
    states, judge = positions(env.game), MoveJudge(env.game)
    rows = [probe(spec, env, states, judge, args.batch_size) for spec in args.players]

    table = Table(title=f"greedy policy on all {len(states)} tic-tac-toe positions ({machine()['cores']} cores)")
    for column in ("player", "optimal", "win-in-1", "must-block", "invalid", "fixed order", "explains"):
        table.add_column(column, justify="left" if column in ("player", "fixed order") else "right", no_wrap=True)
    for r in rows:
        label = r["player"] if len(r["player"]) <= 40 else "..." + r["player"][-37:]
        table.add_row(
            label, f"{r['optimal']:.3f}", f"{r['win_in_1']:.3f}", f"{r['must_block']:.3f}",
            f"{r['invalid']:.3f}", " ".join(map(str, r["fixed_order"])), f"{r['fixed_order_share']:.3f}",
        )  # fmt: skip
    Console(width=160).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
