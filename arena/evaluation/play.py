"""`arena play`: a person plays a game in the terminal against a tier or a model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console

from arena.errors import ArenaError, IllegalMoveError
from arena.games.base import DRAW
from arena.games.registry import get_spec

QUIT = ("q", "quit", "exit")


def _make_opponent(spec: str, game: Any, temperature: float, max_new_tokens: int, board_layout: str | None) -> Any:
    from opponents import ModelSpec, make_opponent

    settings = {"temperature": temperature, "max_new_tokens": max_new_tokens, "board_layout": board_layout}

    if spec == "tiny" or spec.startswith("tiny:"):
        from arena.models import build_tiny_model
        from opponents.model import ModelOpponent

        seed = spec.partition(":")[2] or "0"
        if not seed.isdigit():
            raise ArenaError(f"tiny model seed must be a non-negative integer, got {seed!r}")
        model, tokenizer = build_tiny_model(seed=int(seed), game=game.name)
        model_spec = ModelSpec(path="tiny", label=spec, **settings)
        return ModelOpponent(game, model_spec, model=model, tokenizer=tokenizer)
    if spec.startswith("model:"):
        model_spec = ModelSpec(path=spec[len("model:") :], **settings)
        return make_opponent(model_spec, game)
    return make_opponent(spec, game)


def play_terminal(
    game_name: str = "tictactoe",
    opponent: str = "random",
    seat: str = "first",
    seed: int = 0,
    *,
    input_fn: Callable[[str], str] = input,
    console: Console | None = None,
    temperature: float = 1.0,
    max_new_tokens: int = 64,
    board_layout: str | None = None,
    game_kwargs: dict[str, Any] | None = None,
) -> str:
    """Play one game; returns "win", "draw", "loss" (for the person) or "quit" (or end of input). `game_kwargs`
    builds the game (connect four: rows, columns, connect)."""
    console = console or Console(highlight=False)
    spec = get_spec(game_name)
    game = spec.game(**(game_kwargs or {}))
    renderer = spec.renderer(game, board_layout)  # the layout a model opponent was trained on
    rng = np.random.default_rng(seed)
    if seat == "random":
        seat = ("first", "second")[int(rng.integers(2))]
    if seat not in ("first", "second"):
        raise ArenaError(f"seat must be 'first', 'second' or 'random', got {seat!r}")
    human = 0 if seat == "first" else 1
    bot = _make_opponent(opponent, game, temperature, max_new_tokens, board_layout)
    console.print(f"[bold]{renderer.title}[/bold]: you play {renderer.symbol(human)} against {bot.name}.")
    console.print(renderer.rules())
    console.print(f"Type a {renderer.move_noun} number and press Enter; 'q' quits.\n")
    state = game.initial_state()
    while not game.is_over(state):
        if game.to_move(state) != human:
            move = int(bot.choose(state, rng))
            console.print(f"{bot.name} plays {move}.")
            state = game.apply(state, move)
            continue
        console.print(renderer.render(state))
        legal = game.legal_moves(state)
        legal_text = " ".join(str(m) for m in legal)
        while True:
            try:
                text = input_fn(f"Your {renderer.move_noun} ({legal_text}): ").strip()
            except EOFError:
                console.print("\nNo more input: game abandoned.")
                return "quit"
            if text.lower() in QUIT:
                console.print("Game abandoned.")
                return "quit"
            if not text.lstrip("+-").isdigit() or len(text) > 9:
                console.print(f"{text[:20]!r} is not a number. Legal {renderer.move_noun}s: {legal_text}.")
                continue
            try:
                state = game.apply(state, int(text))
            except IllegalMoveError as exc:
                console.print(f"Not allowed: {exc}. Legal {renderer.move_noun}s: {legal_text}.")
                continue
            break
    console.print(renderer.render(state))
    winner = game.winner(state)
    result = "draw" if winner == DRAW else "win" if winner == human else "loss"
    console.print({"win": "You win!", "draw": "Draw.", "loss": f"{bot.name} wins."}[result])
    return result
