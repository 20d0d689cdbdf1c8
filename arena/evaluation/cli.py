"""The `arena eval` and `arena play` subcommands (added to the parser in `arena.cli`)."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from arena.errors import ArenaError
from arena.models.loading import run_config

PLAYER_HELP = (
    "who plays: a tier name (random, noisy-<p>, depth-<d>, perfect, ...), 'tiny' or 'tiny:<seed>' (the embedded "
    "tiny model, freshly initialised), 'model:<path or hub id>' (a transformers causal LM; a training run "
    "directory plays its latest checkpoint-N) or 'openai:<model>' (an OpenAI-compatible endpoint, see --base-url)"
)


def _anchor(text: str) -> tuple[str, float]:
    tier, sep, value = text.partition("=")
    try:
        if not sep or not tier:
            raise ValueError
        return tier, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an anchor is TIER=RATING, e.g. random=0, got {text!r}") from None


def add_eval_parser(sub: Any) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a player against opponent tiers",
        description="Play N seat-balanced games per tier with fixed seeds; print a table and write JSON and a "
        "PNG chart of the score per tier.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--player", required=True, help=PLAYER_HELP)
    p.add_argument(
        "--game",
        default=None,
        help="registered game name (default: the game a training run's model was trained on, else tictactoe)",
    )
    p.add_argument(
        "--game-kwargs",
        default=None,
        metavar="MAPPING",
        help="arguments of the game, as in YAML or JSON, e.g. '{rows: 5, columns: 6}' (default: a training run's "
        "game_kwargs, else none)",
    )
    p.add_argument(
        "--tiers", nargs="+", default=["random", "noisy-0.5", "depth-2", "perfect"], help="opponent tiers to play"
    )
    p.add_argument("--games", type=int, default=100, help="games per tier (half with each seat)")
    p.add_argument("--seed", type=int, default=0, help="root seed of every game")
    p.add_argument("--batch-size", type=int, default=64, help="games played concurrently (batched model calls)")
    p.add_argument(
        "--invalid-move",
        choices=["forfeit", "random", "retry"],
        default="forfeit",
        help="what an invalid move does: lose the game, play a random legal move, or ask again",
    )
    p.add_argument("--max-retries", type=int, default=2, help="retries per turn with --invalid-move retry")
    p.add_argument("--answer-mode", choices=["strict", "lenient"], default="strict", help="how answers are parsed")
    p.add_argument(
        "--context",
        choices=["turn", "game"],
        default=None,
        help="what the player sees each move: the current prompt alone (turn), or the whole game so far as a "
        "multi-turn chat (game), as the model was trained (grpo.rollout); default: a training run's own, else turn",
    )
    p.add_argument(
        "--board-layout",
        default=None,
        help="how the board is written, as the model was trained (env.board_layout; connect four: rows or "
        "columns); default: a training run's own, else the game's own",
    )
    p.add_argument("--no-move-quality", action="store_true", help="skip judging moves against the solved game")
    p.add_argument(
        "--move-quality-max-moves",
        type=int,
        default=16,
        help="judge blunders by exact minimax for games of at most this many moves (longer games need a solver "
        "of their own; the report says when judging is off and why)",
    )
    p.add_argument("--probes", action="store_true", help="also run memorisation, unseen-start and diversity probes")
    p.add_argument("--probe-games", type=int, default=50, help="games per probe group")
    p.add_argument("--probe-tier", default="depth-2", help="opponent of the unseen-start probe")
    p.add_argument("--start-plies", type=int, default=2, help="random opening moves before an unseen-start game")
    p.add_argument(
        "--anchor",
        type=_anchor,
        action="append",
        default=[],
        metavar="TIER=RATING",
        help="rating anchor for the Elo fit (repeatable); adds to or overrides the default: the documented table "
        "for built-in games, random=0 for any other",
    )
    g = p.add_argument_group("pass@k (docs/evaluation.md, 'pass@k')")
    g.add_argument(
        "--pass-k",
        type=int,
        nargs="+",
        default=[],
        metavar="K",
        help="also estimate pass@k against every tier: the share of problems where at least one of k sampled games "
        "is won (or not lost), with distinct lines; needs a sampling player (--temperature > 0)",
    )
    g.add_argument(
        "--pass-k-samples",
        type=int,
        default=None,
        help="games played of each problem, shared evenly by the players of a mixture (default: the largest k)",
    )
    g.add_argument("--pass-k-problems", type=int, default=20, help="pass@k problems a tier, seat-balanced")
    g.add_argument(
        "--pass-k-start-plies",
        type=int,
        default=0,
        help="random opening moves before each pass@k problem (0: the empty board; more: unseen openings)",
    )
    g.add_argument(
        "--mix-with",
        action="append",
        default=[],
        metavar="PLAYER",
        help="another player (same forms as --player, same sampling options) that shares every pass@k problem's "
        "games with --player, k/m games each: pass@k of the mixture (repeatable)",
    )
    g = p.add_argument_group("model players")
    g.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (0: greedy)")
    g.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    g.add_argument("--max-new-tokens", type=int, default=256, help="longest completion per move")
    g.add_argument("--device", default="auto", help="device for transformers models: auto, cpu, cuda, cuda:1")
    g = p.add_argument_group("OpenAI-compatible endpoints")
    g.add_argument("--base-url", default=None, help="endpoint base URL, e.g. http://localhost:8000/v1")
    g.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key (never printed)"
    )
    g.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    g.add_argument(
        "--retries", type=int, default=3, help="retries of a failed request (5xx, 429, timeouts, malformed answers)"
    )
    g.add_argument("--backoff", type=float, default=0.5, help="first retry delay in seconds, doubled each retry")
    g.add_argument("--timeout", type=float, default=60.0, help="seconds one request may take in all (each attempt)")
    g = p.add_argument_group("output")
    g.add_argument("--out", default="eval", help="directory for report.json and scores.png")
    g.add_argument("--json", default=None, help="JSON report path (default: OUT/report.json)")
    g.add_argument("--plot", default=None, help="PNG chart path (default: OUT/scores.png)")
    g.add_argument(
        "--include-games", action="store_true", help="also write every game (moves and transcript) to the JSON"
    )
    g.add_argument(
        "--transcripts",
        default=None,
        help="JSONL of every game's turns: prompt, the player's completion, move played (default: "
        "OUT/transcripts.jsonl)",
    )
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from arena.evaluation.pass_k import check_pass_k
    from arena.evaluation.players import make_player
    from arena.evaluation.runner import EvalConfig, evaluate
    from arena.text import AnswerFormat

    console = Console()
    if not console.is_terminal:  # piped or in CI: rich would fall back to 80 columns and elide the table
        console = Console(width=140)
    game_kwargs = _mapping(args.game_kwargs, "--game-kwargs") if args.game_kwargs is not None else None
    asked = {"game": args.game, "game_kwargs": game_kwargs, "board_layout": args.board_layout, "context": args.context}
    shown = _as_trained([args.player, *args.mix_with], asked, console)
    args.game = shown["game"] or "tictactoe"
    game_kwargs = shown["game_kwargs"] or {}
    args.board_layout = shown["board_layout"]
    args.context = shown["context"] or "turn"
    try:
        config = EvalConfig(
            game=args.game,
            game_kwargs=game_kwargs,
            tiers=tuple(args.tiers),
            games_per_tier=args.games,
            seed=args.seed,
            batch_size=args.batch_size,
            invalid_move=args.invalid_move,
            max_retries=args.max_retries,
            answer_mode=args.answer_mode,
            context=args.context,
            board_layout=args.board_layout,
            move_quality=not args.no_move_quality,
            move_quality_max_moves=args.move_quality_max_moves,
            probes=args.probes,
            probe_games=args.probe_games,
            probe_tier=args.probe_tier,
            start_plies=args.start_plies,
            anchors=dict(args.anchor) or None,
            pass_k=tuple(args.pass_k),
            pass_k_samples=args.pass_k_samples,
            pass_k_problems=args.pass_k_problems,
            pass_k_start_plies=args.pass_k_start_plies,
        )
    except ValidationError as exc:
        raise ArenaError(f"invalid evaluation options: {_flag_errors(exc)}") from None
    out = Path(args.out)
    json_path, plot_path = Path(args.json or out / "report.json"), Path(args.plot or out / "scores.png")
    transcripts_path = Path(args.transcripts or out / "transcripts.jsonl")
    _check_writable(json_path, "--json" if args.json else "--out")  # before any game is played, not after
    _check_writable(plot_path, "--plot" if args.plot else "--out")
    _check_writable(transcripts_path, "--transcripts" if args.transcripts else "--out")
    if args.mix_with and not args.pass_k:
        raise ArenaError("--mix-with: a mixture of players is judged by pass@k only: add --pass-k")
    if config.pass_k:  # before any model is loaded
        check_pass_k(config.pass_k, config.pass_k_games, 1 + len(args.mix_with))
    players = []
    try:
        for spec in (args.player, *args.mix_with):
            players.append(
                make_player(
                    spec,
                    config.rules(),
                    answer=AnswerFormat(mode=args.answer_mode),
                    temperature=args.temperature,
                    top_p=args.top_p,
                    max_new_tokens=args.max_new_tokens,
                    batch_size=args.batch_size,
                    device=args.device,
                    base_url=args.base_url,
                    api_key_env=args.api_key_env,
                    concurrency=args.concurrency,
                    retries=args.retries,
                    backoff=args.backoff,
                    timeout=args.timeout,
                )
            )
        report = evaluate(players[0], config=config, progress=not args.no_progress, mix_with=players[1:])
    finally:
        for player in players:
            player.close()
    console.print(report.table())
    if report.pass_at_k:
        console.print(report.pass_k_table())
    if report.solver_note:
        console.print(report.solver_note)
    if report.probes:
        m, s, d = (report.probes[k] for k in ("memorisation", "unseen_starts", "diversity"))
        console.print(
            f"probes: memorisation gap {_fmt(m['gap'])} (perfect-first {_fmt(m['score_vs_perfect_first'])} - "
            f"perfect {_fmt(m['score_vs_perfect'])}); unseen starts vs {s['tier']}: score {_fmt(s['score'])}; "
            f"diversity: {d['distinct_lines']} distinct lines in {d['games']} games, "
            f"move entropy {d['move_entropy_bits']:.2f} bits"
        )
    report.save(json_path, include_games=args.include_games)
    report.plot(plot_path)
    report.save_transcripts(transcripts_path)
    console.print(f"wrote {json_path}, {plot_path} and {transcripts_path}")
    message = report.failure_message()
    if message is not None:
        console.print(f"[red]incomplete evaluation:[/red] {message}")
        return 1
    return 0


def _run_config(spec: str) -> Path | None:
    """The config.yaml of the training run a `model:` player comes from; None for any other player."""
    kind, _, path = spec.partition(":")
    return run_config(path) if kind == "model" and path else None


def _mapping(text: str, flag: str) -> dict[str, Any]:
    """A flag's mapping, written as in YAML or JSON (as train.py's overrides read), or an error naming the flag."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ArenaError(f"{flag}: cannot read {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise ArenaError(f"{flag}: expected a mapping such as '{{rows: 5, columns: 6}}', got {text!r}")
    return value


def _as_trained(specs: list[str], asked: dict[str, Any], console: Console) -> dict[str, Any]:
    """The flags in `asked` (game, game_kwargs, board_layout, context), each one not given (None) taken from the
    training run of the `model:` players in `specs` (`trained_as`), and a line saying what was taken."""
    if None not in asked.values():
        return asked
    trained, source = trained_as(specs, [k for k, v in asked.items() if v is not None])
    if source is None:
        return asked
    taken = {k: v for k, v in trained.items() if k in asked and asked[k] is None and v is not None}
    if taken:
        said = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in taken.items())
        console.print(f"as trained ({source}): {said}; a flag overrides it")
    if asked["game"] is not None and trained["game"] not in (None, asked["game"]):
        console.print(f"[yellow]note:[/yellow] --game {asked['game']}, but {source} trained on {trained['game']}")
    return {k: v if v is not None else trained.get(k) for k, v in asked.items()}


def trained_as(specs: list[str], given: Sequence[str] = ()) -> tuple[dict[str, Any], str | None]:
    """How the model players' training run showed them the game: {"game", "game_kwargs", "board_layout", "context"}
    read from its config.yaml (game_kwargs None where it has none; context "game" for `game` rollouts, else "turn"),
    and the file; ({...None}, None) for players not from a run. Players from runs that showed the game differently
    are refused (evaluate them apart), unless each difference is in a key of `given` (set by a flag)."""
    import yaml

    found: list[tuple[dict[str, Any], str]] = []
    for spec in specs:
        path = _run_config(spec)
        if path is None:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ArenaError(
                f"cannot read {path} ({exc}); pass --game, --game-kwargs, --board-layout and --context yourself"
            ) from None
        env, grpo = data.get("env") or {}, data.get("grpo") or {}
        found.append(
            (
                {
                    "game": data.get("game"),
                    "game_kwargs": data.get("game_kwargs") or None,
                    "board_layout": env.get("board_layout"),
                    "context": "game" if grpo.get("rollout", "game") == "game" else "turn",
                },
                str(path),
            )
        )
    if not found:
        return {"game": None, "game_kwargs": None, "board_layout": None, "context": None}, None
    first, source = found[0]
    for other, where in found[1:]:
        if any(other[k] != first[k] for k in first if k not in given):
            raise ArenaError(
                f"the players were trained seeing the game differently ({source}: {first}; {where}: {other}): "
                "evaluate them apart, or override what differs with --game, --game-kwargs, --board-layout or --context"
            )
    return first, source


# EvalConfig fields whose flag is not the field name with dashes.
_FLAGS = {"games_per_tier": "--games", "move_quality": "--no-move-quality", "anchors": "--anchor"}


def _flag_errors(exc: ValidationError) -> str:
    """Pydantic's errors in the words of the command line: the flag, the problem and the value given."""
    parts = []
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else ""
        flag = _FLAGS.get(field, f"--{field.replace('_', '-')}") if field else ""
        message = err["msg"].removeprefix("Value error, ")
        given = f" (got {err['input']!r})" if field and "input" in err else ""
        parts.append(f"{flag}: {message[:1].lower()}{message[1:]}{given}" if flag else message)
    return "; ".join(parts)


def _check_writable(path: Path, flag: str) -> None:
    """Fail now, naming the flag, if `path` cannot be written: not after every game has been played."""
    try:
        for folder in (path.parent, *path.parent.parents):
            if folder.exists() and not folder.is_dir():
                raise NotADirectoryError(f"{folder} is not a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a directory")
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".arena-write-check-"):
            pass
    except OSError as exc:
        raise ArenaError(f"cannot write {path} ({exc.strerror or exc}): choose a writable place with {flag}") from None


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def add_play_parser(sub: Any) -> None:
    p = sub.add_parser(
        "play",
        help="play a game in the terminal against a tier or a model",
        description="Play against any tier or model: the board is drawn, legal moves are listed, and bad input is "
        "explained and asked again. Type 'q' to quit.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--game",
        default=None,
        help="registered game name; default: a model opponent's training run's game (its config.yaml), else tictactoe",
    )
    p.add_argument(
        "--opponent",
        default="perfect",
        help="a tier name, 'tiny' / 'tiny:<seed>' (embedded tiny model) or 'model:<path or hub id>'",
    )
    p.add_argument("--seat", choices=["first", "second", "random"], default="first", help="your seat")
    p.add_argument("--seed", type=int, default=0, help="seed of the opponent's randomness")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of a model opponent")
    p.add_argument("--max-new-tokens", type=int, default=64, help="longest answer of a model opponent")
    p.add_argument(
        "--board-layout",
        default=None,
        help="how the board is written, for you and a model opponent (connect four: rows or columns); default: as "
        "a model opponent's training run wrote it, else the game's own",
    )
    p.add_argument(
        "--game-kwargs",
        default=None,
        metavar="MAPPING",
        help="arguments of the game, as in YAML or JSON, e.g. '{rows: 5, columns: 6}'; default: a model "
        "opponent's training run's",
    )
    p.set_defaults(func=cmd_play)


def cmd_play(args: argparse.Namespace) -> int:
    from arena.evaluation.play import play_terminal

    console = Console(highlight=False)
    game_kwargs = _mapping(args.game_kwargs, "--game-kwargs") if args.game_kwargs is not None else None
    asked = {"game": args.game, "game_kwargs": game_kwargs, "board_layout": args.board_layout}
    shown = _as_trained([args.opponent], asked, console)  # a model opponent sees the game as it was trained to
    result = play_terminal(
        shown["game"] or "tictactoe",
        args.opponent,
        args.seat,
        args.seed,
        console=console,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        board_layout=shown["board_layout"],
        game_kwargs=shown["game_kwargs"],
    )
    return 0 if result != "quit" else 1
