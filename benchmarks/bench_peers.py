"""Speed against peer suites, in one run on one machine: text envs, tic-tac-toe solving, connect-four moves.

    python benchmarks/bench_peers.py [--quick] [--repeats 5] [--out benchmarks/results/bench_peers.json]

Peers come from the `bench` extra (`pip install -e '.[bench,solver]'`); a peer that is missing or fails is
recorded as skipped with its error, and the rest still run.

(a) Random-vs-random games per second. Every implementation plays full games with uniformly random legal moves.
    Text envs produce a text observation every turn: TextArena for each player in turn (its `get_observation`),
    and ours in two ways: as it is used (the agent's prompt every agent turn, a scripted `random` opponent
    answering on the game state) and "text every ply", where the opponent also gets a rendered prompt and its
    answer goes through the same parser, which is the same work TextArena does. The vectorised env
    (`arena.vector.TextGameVectorEnv`, 1,024 games stepped together, games restarting as they end) has the
    same two rows: "agent text" (the batched `random` tier answers on the board) and "text every ply" (the
    opponent's side also gets its prompt rendered and a text answer parsed for every ply). Vector rows count
    completed games only (games still in flight when the count is reached are thrown away) and play more games
    per repeat than the per-game rows (10x) so that their timed windows are of similar length.
    The 10x target is judged on the vector text-every-ply row; the per-game text-every-ply ratio is kept in
    `ratios`. PettingZoo and OpenSpiel are non-text references (a numeric observation every turn).
    Repeats are interleaved across implementations, so drift in machine speed hits all of them alike.
(b) Solving tic-tac-toe from the empty board: a fresh `Minimax(game).value(initial)` against OpenSpiel's
    `alpha_beta_search` (pure Python, no transposition table).
(c) Connect-four move time on the same positions from random games: our `depth-4` tier (fresh opponent, as in
    bench_core) against bitbully's exact `best_move` (opening book loaded before timing) and our `perfect` tier.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine
from bench_core import play_random_game, sample_positions  # the same games and positions as bench_core
from rich.console import Console
from rich.table import Table

from arena.env import TextGameEnv
from arena.games import make_game
from arena.text import parse_answer, parse_answers, turn_prompt
from arena.vector import BatchOpponent, TextGameVectorEnv, random_legal
from opponents import Minimax, Opponent, make_opponent

GAMES = ("tictactoe", "connect_four")
TEXTARENA_IDS = {"tictactoe": "TicTacToe-v0", "connect_four": "ConnectFour-v0"}
PETTINGZOO_MODULES = {"tictactoe": "tictactoe_v3", "connect_four": "connect_four_v3"}
OPEN_SPIEL_NAMES = {"tictactoe": "tic_tac_toe", "connect_four": "connect_four"}
PEER_DISTRIBUTIONS = {"textarena": "textarena", "pettingzoo": "pettingzoo", "open_spiel": "open_spiel"}
ENV_TARGET_RATIO = 10.0
TARGET_ROW = "ours_vector_text_every_ply"  # the row the 10x target is judged on
VECTOR_ENVS = 1024  # games stepped together by the vector rows
VECTOR_GAMES_FACTOR = 10  # vector rows play this many times the per-game rows' games per repeat

# One full random-vs-random game; gets the game's index (for seeding) and a numpy generator for the moves.
PlayGame = Callable[[int, np.random.Generator], None]
# Many games at once: gets how many games to complete, a seed and a generator; returns the games completed.
PlayGames = Callable[[int, int, np.random.Generator], int]


# -- (a) games per second -----------------------------------------------------------------------------------


def ours(game: str) -> PlayGame:
    env = TextGameEnv(game, opponent="random", agent_seat="random")

    def play(i: int, rng: np.random.Generator) -> None:
        play_random_game(env, i, rng)

    return play


class TextRandomOpponent(Opponent):
    """A random player that reads a rendered prompt and answers in text, parsed like the agent's answer."""

    name = "random"

    def __init__(self, env: TextGameEnv) -> None:
        super().__init__(env.game)
        self.renderer, self.answer = env.renderer, env.config.answer

    def choose(self, state: Any, rng: np.random.Generator) -> int:
        # The prompt the agent would get in this position; built (and dropped) so the work matches.
        _prompt = turn_prompt(self.game, self.renderer, state)
        legal = self.game.legal_moves(state)
        move = legal[int(rng.integers(len(legal)))]
        parsed = parse_answer(f"<think>random</think><move>{move}</move>", self.answer)
        if parsed.move is None:
            raise RuntimeError(f"benchmark answer did not parse: {parsed.error}")
        return parsed.move


def ours_text_every_ply(game: str) -> PlayGame:
    env = TextGameEnv(game, opponent="random", agent_seat="random")
    text_opponent = TextRandomOpponent(env)
    # The env keeps built opponents by tier; planting ours there makes every opponent ply go through text.
    env._opponents["random"] = text_opponent

    def play(i: int, rng: np.random.Generator) -> None:
        play_random_game(env, i, rng)
        if env.opponent is not text_opponent:
            raise RuntimeError("the text opponent was not used: TextGameEnv's opponent cache changed")

    return play


class TextRandomBatchOpponent(BatchOpponent):
    """`TextRandomOpponent` for the vector env: each ply renders the prompts of the games where the opponent is
    to move and parses a text answer for each, then plays the parsed moves."""

    name = "random"

    def __init__(self, env: TextGameVectorEnv) -> None:
        self.answer = env.config.answer
        self.texts = np.array([_answer(m) for m in range(env.game.info.num_moves)], dtype=object)

    def choose(self, env: TextGameVectorEnv, idx: np.ndarray) -> np.ndarray:
        # The prompts the agent would get in these positions; built (and dropped) so the work matches.
        prompts = env.prompts(idx)
        if len(prompts) != len(idx):
            raise RuntimeError("the vector env rendered the wrong number of prompts")
        moves = random_legal(env.legal_mask(idx), env.np_random)
        parsed = parse_answers(self.texts[moves].tolist(), self.answer)
        if not parsed.has_move.all():
            raise RuntimeError("benchmark answers did not parse")
        return parsed.moves


def _answer(move: int) -> str:
    return f"<think>random</think><move>{move}</move>"


def ours_vector(game: str, text_every_ply: bool = False) -> PlayGames:
    env = TextGameVectorEnv(game, num_envs=VECTOR_ENVS, opponent="random", agent_seat="random")
    if text_every_ply:
        env.opponent = TextRandomBatchOpponent(env)
    # The agent's answers, one text per move; each is parsed afresh every time it is sent.
    texts = np.array([_answer(m) for m in range(env.game.info.num_moves)], dtype=object)

    def play(games: int, seed: int, rng: np.random.Generator) -> int:
        _obs, info = env.reset(seed=seed)
        completed = 0
        while completed < games:
            moves = random_legal(info["legal_mask"], rng)
            _obs, _rewards, terminated, truncated, info = env.step(texts[moves].tolist())
            completed += int(np.count_nonzero(terminated | truncated))
        return completed

    return play


def ours_vector_text_every_ply(game: str) -> PlayGames:
    return ours_vector(game, text_every_ply=True)


def textarena(game: str) -> PlayGame:
    import textarena as ta

    # Legal moves come from the board (TextArena lists them only inside the text); actions use its formats.
    if game == "tictactoe":

        def legal(board: list[list[str]]) -> list[str]:
            return [f"[{r * 3 + c}]" for r in range(3) for c in range(3) if board[r][c] == ""]
    else:

        def legal(board: list[list[str]]) -> list[str]:
            return [f"[col {c}]" for c in range(len(board[0])) if board[0][c] == "."]

    def play(i: int, rng: np.random.Generator) -> None:
        # A fresh env per game, as TextArena's examples do: its default observation wrapper keeps every message
        # since construction, so a reused env would render ever longer histories (ta.make costs ~5 us).
        env = ta.make(TEXTARENA_IDS[game])
        env.reset(num_players=2, seed=i)
        done = False
        while not done:
            _player, observation = env.get_observation()
            if not observation:
                raise RuntimeError("TextArena returned an empty observation")
            moves = legal(env.state.game_state["board"])
            done, _info = env.step(action=moves[int(rng.integers(len(moves)))])
        rewards, _game_info = env.close()
        if rewards is None:
            raise RuntimeError("TextArena game ended without rewards (an invalid move?)")

    return play


def pettingzoo(game: str) -> PlayGame:
    import importlib

    module = importlib.import_module(f"pettingzoo.classic.{PETTINGZOO_MODULES[game]}")
    env = module.env()

    def play(i: int, rng: np.random.Generator) -> None:
        env.reset(seed=i)
        for _agent in env.agent_iter():
            observation, _reward, terminated, truncated, _info = env.last()
            if terminated or truncated:
                action = None
            else:
                legal = np.flatnonzero(observation["action_mask"])
                action = int(legal[int(rng.integers(len(legal)))])
            env.step(action)

    return play


def open_spiel(game: str) -> PlayGame:
    import pyspiel

    spiel_game = pyspiel.load_game(OPEN_SPIEL_NAMES[game])

    def play(i: int, rng: np.random.Generator) -> None:
        state = spiel_game.new_initial_state()
        while not state.is_terminal():
            state.observation_tensor(state.current_player())
            legal = state.legal_actions()
            state.apply_action(legal[int(rng.integers(len(legal)))])
        state.returns()

    return play


ENV_IMPLEMENTATIONS: dict[str, Callable[[str], PlayGame]] = {
    "ours": ours,
    "ours_text_every_ply": ours_text_every_ply,
    "ours_vector": ours_vector,
    "ours_vector_text_every_ply": ours_vector_text_every_ply,
    "textarena": textarena,
    "pettingzoo": pettingzoo,
    "open_spiel": open_spiel,
}
VECTOR_ROWS = ("ours_vector", "ours_vector_text_every_ply")
ENV_LABELS = {
    "ours": "arena (agent text; scripted opponent)",
    "ours_text_every_ply": "arena (text every ply)",
    "ours_vector": f"arena vector x{VECTOR_ENVS} (agent text; batched random opponent)",
    "ours_vector_text_every_ply": f"arena vector x{VECTOR_ENVS} (text every ply)",
    "textarena": "TextArena",
    "pettingzoo": "PettingZoo (non-text)",
    "open_spiel": "OpenSpiel (non-text)",
}


def games_per_second(play: PlayGame, games: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for i in range(games):
        play(seed + i, rng)
    return games / (time.perf_counter() - start)


def completed_games_per_second(play: PlayGames, games: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    completed = play(games, seed, rng)
    return completed / (time.perf_counter() - start)


def bench_envs(games: dict[str, int], repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for game, n in games.items():
        players: dict[str, Any] = {}
        rows: dict[str, Any] = {}
        for name, build in ENV_IMPLEMENTATIONS.items():
            try:
                players[name] = build(game)
                # Warm-up: imports, caches, first-call costs.
                if name in VECTOR_ROWS:
                    players[name](VECTOR_ENVS, 0, np.random.default_rng(0))
                else:
                    players[name](0, np.random.default_rng(0))
            except Exception as exc:  # a peer that cannot run is reported, not fatal
                rows[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
        runs: dict[str, list[float]] = {name: [] for name in players}
        for r in range(repeats):
            seed = (r + 1) * 100_000
            for name, play in players.items():
                if name in VECTOR_ROWS:
                    runs[name].append(completed_games_per_second(play, n * VECTOR_GAMES_FACTOR, seed))
                else:
                    runs[name].append(games_per_second(play, n, seed))
        for name in ENV_IMPLEMENTATIONS:
            if name in runs:
                played = n * VECTOR_GAMES_FACTOR if name in VECTOR_ROWS else n
                rows[name] = {"games_per_s_median": statistics.median(runs[name]), "runs": runs[name], "games": played}
        ratios = {}
        for base in ("ours", "ours_text_every_ply", *VECTOR_ROWS):
            for peer in ("textarena", "pettingzoo", "open_spiel"):
                if base in runs and peer in runs:
                    ratios[f"{base}/{peer}"] = rows[base]["games_per_s_median"] / rows[peer]["games_per_s_median"]
        out[game] = {"games": n, "repeats": repeats, "rows": rows, "ratios": ratios}
    return out


# -- (b) solving tic-tac-toe --------------------------------------------------------------------------------


def bench_solve(repeats_ours: int, repeats_peer: int) -> dict[str, Any]:
    game = make_game("tictactoe")
    initial = game.initial_state()

    def solve_ours() -> int:
        return Minimax(game).value(initial)

    def first_move_ours() -> tuple[int, ...]:
        return Minimax(game).best_moves(initial)

    out: dict[str, Any] = {
        "ours_value": _timed(solve_ours, repeats_ours),
        "ours_best_moves": _timed(first_move_ours, repeats_ours),
    }
    try:
        import pyspiel
        from open_spiel.python.algorithms import minimax as spiel_minimax

        spiel_game = pyspiel.load_game("tic_tac_toe")
        out["open_spiel_alpha_beta"] = _timed(
            lambda: spiel_minimax.alpha_beta_search(spiel_game, maximizing_player_id=0), repeats_peer
        )
    except Exception as exc:
        out["open_spiel_alpha_beta"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    if "median_s" in out["open_spiel_alpha_beta"]:
        out["ratio_open_spiel/ours_value"] = out["open_spiel_alpha_beta"]["median_s"] / out["ours_value"]["median_s"]
    return out


def _timed(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": repeats, "result": repr(result)}


# -- (c) connect-four move time ------------------------------------------------------------------------------


def _latency(times: list[float]) -> dict[str, Any]:
    times = sorted(times)
    return {
        "median_us": statistics.median(times) * 1e6,
        "p95_us": times[int(0.95 * (len(times) - 1))] * 1e6,
        "max_us": times[-1] * 1e6,
        "positions": len(times),
    }


def bench_connect_four(count: int) -> dict[str, Any]:
    positions = sample_positions("connect_four", count, seed=1)
    out: dict[str, Any] = {}
    for tier in ("depth-4", "perfect"):
        try:
            opponent = make_opponent(tier, "connect_four")
            rng = np.random.default_rng(2)
            times = []
            for state in positions:
                start = time.perf_counter()
                opponent.choose(state, rng)
                times.append(time.perf_counter() - start)
            out[f"ours_{tier}"] = _latency(times)
        except Exception as exc:
            out[f"ours_{tier}"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    try:
        import bitbully

        from opponents.solver import BitBullyOpponent

        # Boards are converted before timing and the opening book is loaded once: only the search is timed.
        converter = BitBullyOpponent(make_game("connect_four"))
        boards = [converter._board(state) for state in positions]
        solver = bitbully.BitBully()
        times = []
        for board in boards:
            start = time.perf_counter()
            solver.best_move(board)
            times.append(time.perf_counter() - start)
        out["bitbully_best_move"] = _latency(times)
    except Exception as exc:
        out["bitbully_best_move"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    if "median_us" in out["ours_depth-4"] and "median_us" in out["bitbully_best_move"]:
        out["ratio_ours_depth-4/bitbully"] = out["ours_depth-4"]["median_us"] / out["bitbully_best_move"]["median_us"]
    return out


# -- peers' versions and licences ----------------------------------------------------------------------------


def peer_info(distribution: str) -> dict[str, str]:
    try:
        meta = importlib.metadata.metadata(distribution)
    except importlib.metadata.PackageNotFoundError:
        return {"skipped": f"not installed (pip install {distribution})"}
    licence = meta.get("License-Expression") or ""
    if not licence:
        classifiers = [c.rsplit("::", 1)[1].strip() for c in meta.get_all("Classifier") or [] if "License ::" in c]
        field = (meta.get("License") or "").strip().splitlines()
        licence = classifiers[0] if classifiers else field[0] if field else "unknown"
    return {"version": meta["Version"], "licence": licence}


# -- main --------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few games, positions and repeats")
    parser.add_argument("--repeats", type=int, default=5, help="games/s repeats (interleaved); medians reported")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_peers.json")
    args = parser.parse_args()
    console = Console()
    repeats = 2 if args.quick else args.repeats
    env_games = {"tictactoe": 40, "connect_four": 10} if args.quick else {"tictactoe": 2000, "connect_four": 500}

    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    results["peers"] = {name: peer_info(dist) for name, dist in PEER_DISTRIBUTIONS.items()}
    results["peers"]["bitbully"] = peer_info("bitbully")
    results["env"] = bench_envs(env_games, repeats)
    results["solve_tictactoe"] = bench_solve(repeats_ours=5 if args.quick else 50, repeats_peer=1 if args.quick else 3)
    results["connect_four_move"] = bench_connect_four(20 if args.quick else 300)
    results["targets"] = env_targets(results["env"])

    print_tables(console, results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {args.out}")


def env_targets(env: dict[str, Any]) -> dict[str, Any]:
    """The issue's target: our text env at least 10x TextArena's games/s, judged on the vector text-every-ply row."""
    out = {}
    for game, r in env.items():
        ratio = r["ratios"].get(f"{TARGET_ROW}/textarena")
        out[f"text_env_10x_textarena/{game}"] = {
            "row": TARGET_ROW,
            "ratio": ratio,
            "target": ENV_TARGET_RATIO,
            "met": None if ratio is None else ratio >= ENV_TARGET_RATIO,
        }
    return out


def print_tables(console: Console, results: dict[str, Any]) -> None:
    m = results["machine"]
    for game, r in results["env"].items():
        table = Table(
            title=f"{game}: random-vs-random games/s, median of {r['repeats']} x {r['games']} games "
            f"({m['cpu']}, {m['cores']} cores, Python {m['python']})"
        )
        for col in ("implementation", "games", "games/s", "this / TextArena"):
            table.add_column(col, justify="right")
        peer = r["rows"].get("textarena", {}).get("games_per_s_median")
        for name, row in r["rows"].items():
            if "skipped" in row:
                table.add_row(ENV_LABELS[name], "-", "skipped", row["skipped"][:60])
                continue
            ratio = f"{row['games_per_s_median'] / peer:.2f}x" if peer else "-"
            table.add_row(ENV_LABELS[name], str(row["games"]), f"{row['games_per_s_median']:.0f}", ratio)
        console.print(table)

    s = results["solve_tictactoe"]
    table = Table(title="Tic-tac-toe solved from the empty board (fresh solver each repeat)")
    for col in ("solver", "repeats", "median", "result"):
        table.add_column(col, justify="right")
    for key, label in (
        ("ours_value", "arena Minimax(game).value(initial)"),
        ("ours_best_moves", "arena Minimax(game).best_moves(initial)"),
        ("open_spiel_alpha_beta", "OpenSpiel alpha_beta_search"),
    ):
        row = s[key]
        if "skipped" in row:
            table.add_row(label, "-", "skipped", row["skipped"][:60])
        else:
            table.add_row(label, str(row["repeats"]), _fmt(row["median_s"] * 1e6), row["result"])
    console.print(table)
    if "ratio_open_spiel/ours_value" in s:
        console.print(f"OpenSpiel / ours (value): {s['ratio_open_spiel/ours_value']:.1f}x")

    c = results["connect_four_move"]
    table = Table(title="Connect-four move time on the same positions from random games")
    for col in ("player", "positions", "median", "p95", "max"):
        table.add_column(col, justify="right")
    for key, row in c.items():
        if key.startswith("ratio"):
            continue
        if "skipped" in row:
            table.add_row(key, "-", "skipped", row["skipped"][:60], "")
        else:
            table.add_row(key, str(row["positions"]), _fmt(row["median_us"]), _fmt(row["p95_us"]), _fmt(row["max_us"]))
    console.print(table)
    if "ratio_ours_depth-4/bitbully" in c:
        console.print(f"ours depth-4 / bitbully best_move (median): {c['ratio_ours_depth-4/bitbully']:.2f}x")
    for key, t in results["targets"].items():
        verdict = "not measured" if t["met"] is None else "MET" if t["met"] else "NOT MET"
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}x"
        console.print(f"target {key}: >= {t['target']:g}x, measured {ratio}: {verdict}")


def _fmt(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    return f"{us:.1f} us" if us < 1000 else f"{us / 1000:.2f} ms"


if __name__ == "__main__":
    main()
