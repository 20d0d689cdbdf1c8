"""The evaluation protocol: N seat-balanced games per tier with fixed seeds, played in batches through the env.

Every game goes through `TextGameEnv`, so prompts, parsing and invalid-move penalties are those of training.
Games run concurrently (up to `batch_size` at once) so a model player answers them in one batched call.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.batch import Played, Table, play_batched
from arena.env import TextGameEnv
from arena.errors import ArenaError
from arena.evaluation.pass_k import check_pass_k, pass_k_entry
from arena.evaluation.players import EndpointError, Player, Turn, make_player
from arena.evaluation.quality import MoveJudge
from arena.evaluation.stats import DEFAULT_ANCHORS, fit_rating, move_entropy, wilson_interval
from arena.games.base import Game
from arena.games.registry import get_spec
from arena.outcome import SCORES, Outcome
from arena.text import AnswerFormat

DEFAULT_TIERS = ("random", "noisy-0.5", "depth-2", "perfect")
MEMORISATION_TIERS = ("perfect", "perfect-first")


class EvalConfig(BaseModel):
    """How an evaluation is run. Two runs with the same config and a scripted player give identical games."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    game: str = Field("tictactoe", description="Registered game name.")
    game_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Arguments of the game (connect four: rows, columns, connect), as training's `game_kwargs`: "
        "a model is judged on the board it was trained on.",
    )
    tiers: tuple[str, ...] = Field(DEFAULT_TIERS, min_length=1, description="Opponent tiers to play against.")
    games_per_tier: int = Field(100, ge=1, description="Games against each tier; half with each seat (first extra).")
    seed: int = Field(0, ge=0, description="Root seed: every game's env, opponent and player seeds derive from it.")
    batch_size: int = Field(64, ge=1, description="Games played concurrently (one batched model call per turn).")
    invalid_move: Literal["forfeit", "random", "retry"] = Field(
        "forfeit", description="Env policy for invalid moves: forfeit the game, play a random move, or retry."
    )
    max_retries: int = Field(2, ge=1, description="Retries per turn when invalid_move='retry'.")
    answer_mode: Literal["strict", "lenient"] = Field(
        "strict", description="How answers are parsed (see AnswerFormat)."
    )
    board_layout: str | None = Field(
        None, description="How the board is written (EnvConfig.board_layout): as the model was trained; None: default."
    )
    context: Literal["turn", "game"] = Field(
        "turn",
        description="What a player sees each move: 'turn', the current prompt alone; 'game', the whole game so far "
        "as a multi-turn chat (how training plays, so use it to evaluate a model trained here).",
    )
    move_quality: bool = Field(True, description="Judge every move against the solved game (blunders, misses).")
    move_quality_max_moves: int = Field(
        16,
        ge=1,
        description="Judge blunders by exact minimax for games of at most this many moves (the game's "
        "max_game_length); a longer game is judged only by a solver of its own (GameSpec(perfect=...), bitbully "
        "for connect four), else its blunder rate is null and the report's move_quality_note says why. "
        "Ignored without move_quality.",
    )
    probes: bool = Field(False, description="Also run the probes: memorisation gap, unseen starts, move entropy.")
    probe_games: int = Field(50, ge=2, description="Games per probe group.")
    probe_tier: str = Field("depth-2", description="Opponent for the unseen-start-position probe.")
    start_plies: int = Field(2, ge=1, le=8, description="Random moves played before an unseen-start probe game.")
    anchors: dict[str, float] | None = Field(
        None,
        description="Ratings of tiers used as anchors for the Elo fit, added to (or overriding) the default: the "
        "documented table for built-in games, random=0 for any other game.",
    )
    pass_k: tuple[int, ...] = Field(
        (),
        description="Also estimate pass@k for these k against every tier: the share of problems (a seat, an opening "
        "and the opponent's seeds) where at least one of k sampled games is won, or not lost. Empty: off. A sampling "
        "player is needed (temperature > 0) for the k games to differ by more than the opponent's randomness.",
    )
    pass_k_samples: int | None = Field(
        None,
        ge=1,
        description="Games played of each pass@k problem, split evenly over the players of a mixture; at least the "
        "largest k (the default). More games give a less noisy estimate of the same pass@k.",
    )
    pass_k_problems: int = Field(20, ge=1, description="pass@k problems a tier, seat-balanced.")
    pass_k_start_plies: int = Field(
        0,
        ge=0,
        le=8,
        description="Random moves played before each pass@k problem (one more on odd problems, so both seats are "
        "probed; the player is the side to move): 0 starts from the empty board, more from unseen openings.",
    )

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        from opponents import parse_opponent

        try:
            spec = get_spec(self.game)
            spec.renderer(self.rules(), self.board_layout)
        except ArenaError as exc:  # pydantic reports only ValueErrors as validation errors
            raise ValueError(str(exc)) from None
        for tier in (*self.tiers, self.probe_tier):
            parse_opponent(tier)
        if len(set(self.tiers)) != len(self.tiers):
            raise ValueError(f"tiers must be distinct, got {list(self.tiers)}")
        if any(k < 1 for k in self.pass_k) or len(set(self.pass_k)) != len(self.pass_k):
            raise ValueError(f"pass_k must be distinct positive integers, got {list(self.pass_k)}")
        defaults = {k: type(self).model_fields[k].default for k in _PASS_K_FIELDS}
        if not self.pass_k and (unused := [k for k, v in defaults.items() if getattr(self, k) != v]):
            named = ", ".join(f"{k} (--{k.replace('_', '-')})" for k in unused)
            raise ValueError(f"{named} only shape pass@k games: set pass_k (--pass-k) too, or leave them out")
        if self.pass_k_samples is not None and self.pass_k and self.pass_k_samples < max(self.pass_k):
            raise ValueError(
                f"pass_k_samples (--pass-k-samples) {self.pass_k_samples} is fewer than the largest k "
                f"({max(self.pass_k)}): pass@k needs at least k games a problem"
            )
        return self

    def rules(self) -> Game[Any]:
        """The game played: `game` built with `game_kwargs` (a `GameConfigError` names arguments it cannot take)."""
        return get_spec(self.game).game(**self.game_kwargs)

    @property
    def pass_k_games(self) -> int:
        """Games played of each pass@k problem (all players of a mixture together)."""
        return self.pass_k_samples or max(self.pass_k, default=0)


_PASS_K_FIELDS = ("pass_k_samples", "pass_k_problems", "pass_k_start_plies")


@dataclass
class GameRecord:
    """One finished game, as stored in the report."""

    group: str
    tier: str
    index: int
    seat: str
    start: list[int]
    moves: list[int]
    result: str
    agent_turns: int
    format_errors: int
    unparseable_moves: int
    illegal_moves: int
    invalid_moves: int
    think_chars: int
    seconds: float
    agent_choices: list[tuple[Any, int]] = field(default_factory=list, repr=False)
    verdicts: list[Any] = field(default_factory=list, repr=False)
    # What the player was shown and said, turn by turn (the same fields as training transcripts).
    transcript: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # pass@k games only: which of the problem's games this is, and who played it.
    sample: int | None = None
    player: str | None = None

    @property
    def score(self) -> float:
        return SCORES.get(self.result, 0.0)  # a failed game scores nothing (it is kept out of the results)

    @classmethod
    def unplayed(cls, job: _Job, player: str) -> GameRecord:
        """The record of `job` before its first move (no result yet)."""
        record = cls(
            group=job.group,
            tier=job.tier,
            index=job.index,
            seat=job.seat,
            start=list(job.start),
            moves=[],
            result="",
            agent_turns=0,
            format_errors=0,
            unparseable_moves=0,
            illegal_moves=0,
            invalid_moves=0,
            think_chars=0,
            seconds=0.0,
        )
        if job.sample is not None:
            record.sample, record.player = job.sample, player
        return record

    def finish(self, outcome: Outcome) -> None:
        """Take the game's end from the env: its moves, result and the agent's answer counts."""
        self.moves = list(outcome.moves)
        self.result = outcome.result
        self.agent_turns = outcome.agent_turns
        self.format_errors = outcome.format_errors
        self.unparseable_moves = outcome.unparseable_moves
        self.illegal_moves = outcome.illegal_moves
        self.invalid_moves = outcome.invalid_moves

    def to_dict(self) -> dict[str, Any]:
        keys = ("group", "tier", "index", "seat", "start", "moves", "result", "agent_turns", "format_errors")
        return {k: getattr(self, k) for k in (*keys, "invalid_moves", "think_chars", "transcript", *self._pass_k_keys)}

    @property
    def _pass_k_keys(self) -> tuple[str, ...]:
        return () if self.sample is None else ("sample", "player")


@dataclass(frozen=True)
class _Job:
    group: str
    tier: str
    index: int
    seat: str
    start: tuple[int, ...]
    env_seed: int
    opponent_seed: int
    player_seed: int
    sample: int | None = None  # pass@k games: which of the problem's games


def _rate(num: float, den: float) -> float | None:
    return num / den if den else None


class TierStats(TypedDict):
    """One tier's entry of the report (`EvalReport.tiers`, the JSON report's `tiers`). Rates are None for a tier
    with no finished game; a `*_ci` is a 95% Wilson interval [low, high]. Truncated games count as losses."""

    tier: str
    games: int
    wins: int
    draws: int
    losses: int
    win_rate: float | None
    win_ci: list[float]
    draw_rate: float | None
    draw_ci: list[float]
    loss_rate: float | None
    loss_ci: list[float]
    score: float | None  # (wins + draws / 2) / games
    score_ci: list[float]
    score_first_seat: float | None
    score_second_seat: float | None
    agent_turns: int
    invalid_moves: int
    invalid_move_rate: float | None  # per agent turn
    unparseable_moves: int
    illegal_moves: int
    format_errors: int
    format_error_rate: float | None  # per agent turn
    mean_think_chars: float | None  # per agent turn
    seconds_per_move: float | None
    moves_judged: int  # moves a solver judged (none where the game has no solver)
    blunders: int
    blunder_rate: float | None
    win_chances: int
    missed_wins: int
    missed_win_rate: float | None
    block_chances: int
    missed_blocks: int
    missed_block_rate: float | None
    distinct_lines: int  # distinct move sequences among the games
    failed_games: int  # games a failed request ended: counted in none of the above


def tier_stats(tier: str, games: Sequence[GameRecord], failed: int = 0) -> TierStats:
    """The per-tier entry of the report: `games` finished, `failed` ended by a failed request."""
    n = len(games)
    count = Counter(g.result for g in games)
    wins, draws = count["win"], count["draw"]
    losses = n - wins - draws  # truncated games count as losses
    turns = sum(g.agent_turns for g in games)
    score_total = wins + draws / 2
    verdicts = [v for g in games for v in g.verdicts]
    judged = [v for v in verdicts if v.blunder is not None]
    by_seat = {
        seat: _rate(sum(g.score for g in games if g.seat == seat), sum(1 for g in games if g.seat == seat))
        for seat in ("first", "second")
    }
    return {
        "tier": tier,
        "games": n,
        "wins": wins,
        "draws": draws,
        "losses": losses,
        "win_rate": _rate(wins, n),
        "win_ci": list(wilson_interval(wins, n)),
        "draw_rate": _rate(draws, n),
        "draw_ci": list(wilson_interval(draws, n)),
        "loss_rate": _rate(losses, n),
        "loss_ci": list(wilson_interval(losses, n)),
        "score": _rate(score_total, n),
        "score_ci": list(wilson_interval(score_total, n)),
        "score_first_seat": by_seat["first"],
        "score_second_seat": by_seat["second"],
        "agent_turns": turns,
        "invalid_moves": sum(g.invalid_moves for g in games),
        "invalid_move_rate": _rate(sum(g.invalid_moves for g in games), turns),
        "unparseable_moves": sum(g.unparseable_moves for g in games),
        "illegal_moves": sum(g.illegal_moves for g in games),
        "format_errors": sum(g.format_errors for g in games),
        "format_error_rate": _rate(sum(g.format_errors for g in games), turns),
        "mean_think_chars": _rate(sum(g.think_chars for g in games), turns),
        "seconds_per_move": _rate(sum(g.seconds for g in games), turns),
        "moves_judged": len(judged),
        "blunders": sum(v.blunder for v in judged),
        "blunder_rate": _rate(sum(v.blunder for v in judged), len(judged)),
        "win_chances": sum(v.win_chance for v in verdicts),
        "missed_wins": sum(v.missed_win for v in verdicts),
        "missed_win_rate": _rate(sum(v.missed_win for v in verdicts), sum(v.win_chance for v in verdicts)),
        "block_chances": sum(v.block_chance for v in verdicts),
        "missed_blocks": sum(v.missed_block for v in verdicts),
        "missed_block_rate": _rate(sum(v.missed_block for v in verdicts), sum(v.block_chance for v in verdicts)),
        "distinct_lines": len({tuple(g.moves) for g in games}),
        "failed_games": failed,
    }


@dataclass
class EvalReport:
    """Results of one evaluation: per-tier entries, the rating, the probes and every game."""

    config: EvalConfig
    player: str
    tiers: list[TierStats]
    rating: dict[str, Any]
    probes: dict[str, Any]
    games: list[GameRecord]
    elapsed_s: float
    solver: str
    solver_note: str = ""
    failures: dict[str, Any] = field(default_factory=dict)
    pass_at_k: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_games(self) -> int:
        """Games ended by failed requests: not in the results (0 for a complete evaluation)."""
        return int(self.failures.get("failed_games", 0))

    def failure_message(self) -> str | None:
        """One line on what failed and what the report still holds; None for a complete evaluation."""
        f = self.failures
        if not self.failed_games:
            return None
        finished = f["games"] - f["failed_games"]
        requests = (
            ""
            if f["failed_requests"] is None
            else f"; {f['failed_requests']} requests failed after all retries "
            f"({f['failed_attempts']} of {f['attempts']} attempts failed)"
        )
        stopped = " (stopped after a round in which every request failed)" if f["stopped_early"] else ""
        return (
            f"{f['failed_games']} of {f['games']} games failed{stopped}{requests}; the report holds the "
            f"{finished} finished games. Last error: {f['error']}"
        )

    def tier(self, name: str) -> TierStats:
        for entry in self.tiers:
            if entry["tier"] == name:
                return entry
        raise KeyError(f"no tier {name!r} in this report; tiers: {[t['tier'] for t in self.tiers]}")

    def to_dict(self, include_games: bool = False) -> dict[str, Any]:
        out = {
            "game": self.config.game,
            "player": self.player,
            "seed": self.config.seed,
            "games_per_tier": self.config.games_per_tier,
            "config": self.config.model_dump(mode="json"),
            "move_quality_solver": self.solver,
            "move_quality_note": self.solver_note,
            "tiers": self.tiers,
            "rating": self.rating,
            "probes": self.probes,
            "elapsed_s": round(self.elapsed_s, 3),
            "failures": self.failures,
            "pass_at_k": self.pass_at_k,
        }
        if include_games:
            out["games"] = [g.to_dict() for g in self.games]
        return out

    def save_transcripts(self, path: str | Path) -> Path:
        """Every game as one JSON line: tier, seat, result and each turn's prompt, completion and move."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = ("group", "tier", "index", "seat", "start", "result", "transcript")
        with path.open("w") as f:
            for g in self.games:
                f.write(json.dumps({k: getattr(g, k) for k in (*keys, *g._pass_k_keys)}) + "\n")
        return path

    def to_json(self, include_games: bool = False) -> str:
        return json.dumps(self.to_dict(include_games), indent=2)

    def save(self, path: str | Path, include_games: bool = False) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(include_games) + "\n")
        return path

    def metrics(self, prefix: str = "eval/") -> dict[str, float]:
        """Flat metrics for a training logger: `eval/score_vs_{tier}`, `eval/win_rate_vs_{tier}`, ..."""
        out: dict[str, float] = {}
        for t in self.tiers:
            for key in ("score", "win_rate", "loss_rate", "invalid_move_rate", "format_error_rate"):
                if t[key] is not None:
                    out[f"{prefix}{key}_vs_{t['tier']}"] = float(t[key])
        if self.rating.get("rating") is not None:
            out[f"{prefix}rating"] = float(self.rating["rating"])
        return out

    def table(self) -> Any:
        """A rich table of the per-tier results."""
        from rich.table import Table

        title = (
            f"{self.player} at {self.config.game}: {self.config.games_per_tier} games a tier (seed {self.config.seed})"
        )
        table = Table(title=title)
        columns = ("tier", "W/D/L", "win % [95% CI]", "score", "invalid", "format err", "think", "s/move", "blunders")
        for col in columns:
            table.add_column(col, justify="left" if col == "tier" else "right")

        def pct(x: float | None) -> str:
            return "-" if x is None else f"{100 * x:.1f}%"

        for t in self.tiers:
            lo, hi = t["win_ci"]
            table.add_row(
                t["tier"],
                f"{t['wins']}/{t['draws']}/{t['losses']}",
                f"{pct(t['win_rate'])} [{100 * lo:.0f}-{100 * hi:.0f}]",
                "-" if t["score"] is None else f"{t['score']:.3f}",
                pct(t["invalid_move_rate"]),
                pct(t["format_error_rate"]),
                "-" if t["mean_think_chars"] is None else f"{t['mean_think_chars']:.0f}",
                "-" if t["seconds_per_move"] is None else f"{t['seconds_per_move']:.4f}",
                pct(t["blunder_rate"]),
            )
        if self.rating.get("rating") is not None:
            r = self.rating
            table.caption = f"rating {r['rating']:.0f} [{r['low']:.0f}, {r['high']:.0f}] (anchors: {r['anchors']})"
        return table

    def pass_k_table(self) -> Any:
        """A rich table of pass@k a tier: won and not lost in at least one of k games, with 95% intervals."""
        from rich.table import Table

        p = self.pass_at_k
        start = "the empty board" if not p["start_plies"] else f"{p['start_plies']}-ply random openings"
        table = Table(
            title=f"pass@k of {' + '.join(p['players'])}: {p['problems_per_tier']} problems a tier from {start}, "
            f"{p['games_per_problem']} games a problem"
        )
        for col in ("tier", "at least one", *(f"pass@{k} [95% CI]" for k in p["k"]), "lines (won)"):
            table.add_column(col, justify="left" if col in ("tier", "at least one") else "right")
        for t in p["tiers"]:
            for outcome, label in (("win", "won"), ("not_lost", "not lost")):
                cells = []
                for k in p["k"]:
                    value, (lo, hi) = t["pass_at_k"][str(k)][outcome], t["pass_at_k"][str(k)][f"{outcome}_ci"]
                    cells.append("-" if value is None else f"{100 * value:.0f}% [{100 * lo:.0f}-{100 * hi:.0f}]")
                lines = f"{t['distinct_lines']} ({t['distinct_winning_lines']})" if outcome == "win" else ""
                table.add_row(t["tier"] if outcome == "win" else "", label, *cells, lines)
        return table

    def plot(self, path: str | Path) -> Path:
        """A PNG bar chart of the score against each tier with its 95% interval."""
        from matplotlib.figure import Figure  # no pyplot: the caller's backend (e.g. a notebook's) is left alone

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        names = [t["tier"] for t in self.tiers]
        scores = [t["score"] or 0.0 for t in self.tiers]  # a tier with no finished game: an empty bar
        err = [  # clipped at 0: matplotlib refuses a negative error bar from rounding at a 0 or 1 score
            [max(0.0, s - t["score_ci"][0]) if t["games"] else 0.0 for s, t in zip(scores, self.tiers, strict=True)],
            [max(0.0, t["score_ci"][1] - s) if t["games"] else 0.0 for s, t in zip(scores, self.tiers, strict=True)],
        ]
        fig = Figure(figsize=(max(4.0, 1.2 * len(names) + 1), 3.5))
        ax = fig.subplots()
        ax.bar(names, scores, yerr=err, capsize=4, color="#4c72b0")
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
        ax.set_ylabel("score (win 1, draw 0.5)")
        ax.set_title(f"{self.player} at {self.config.game}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        return path


def _seed(*parts: int | str) -> np.random.Generator:
    return np.random.default_rng([p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts])


def _random_start(game: Any, plies: int, rng: np.random.Generator) -> tuple[int, ...]:
    """A random opening of `plies` moves that leaves the game open for at least two more moves."""
    for _ in range(1000):
        state, moves = game.play_random(plies, rng)
        if len(moves) == plies and not game.is_over(state) and len(game.legal_moves(state)) >= 2:
            return tuple(moves)
    raise ArenaError(f"could not find a start position of {plies} plies that leaves the game open")


def _jobs(
    config: EvalConfig, group: str, tier: str, n: int, start_plies: int = 0, samples: Sequence[int] = ()
) -> list[_Job]:
    """Seat-balanced games (even index: first seat); with `start_plies`, each game begins from a random opening of
    that many moves (one more on odd games, so both seats are probed) and the agent is the side to move.

    With `samples` (pass@k), each of the n games is a problem played once per sample: the same seat, opening, env
    and opponent seeds, and a player seed of the sample's own."""
    game = config.rules()
    jobs = []
    for i in range(n):
        rng = _seed(config.seed, group, i)
        seat = "first" if i % 2 == 0 else "second"
        start: tuple[int, ...] = ()
        if start_plies:
            start = _random_start(game, start_plies + i % 2, rng)
            seat = "first" if game.to_move(game.play(start)) == 0 else "second"
        seeds = [int(x) for x in rng.integers(1 << 62, size=3)]
        if not samples:
            jobs.append(_Job(group, tier, i, seat, start, *seeds))
        for j in samples:
            player_seed = int(_seed(config.seed, group, i, "sample", j).integers(1 << 62))
            jobs.append(_Job(group, tier, i, seat, start, seeds[0], seeds[1], player_seed, sample=j))
    return jobs


@dataclass
class _Slot:
    """What evaluation keeps for a game in flight (`Table.data`)."""

    job: _Job
    rng: np.random.Generator
    record: GameRecord
    chat: list[dict[str, str]] = field(default_factory=list)  # this game's user and assistant turns so far


ProgressCallback = Callable[[int, int], None]


def _messages(table: Table, config: EvalConfig) -> list[dict[str, str]]:
    """The chat a player sees: this move's prompt alone, or (context='game') the whole game so far."""
    system, user = (dict(m) for m in table.info["messages"])
    return [system, *table.data.chat, user] if config.context == "game" else [system, user]


@dataclass
class _Failures:
    """Games a player's failed requests ended (an endpoint that kept failing), and the last reason given."""

    games: list[GameRecord] = field(default_factory=list)
    error: str | None = None
    stopped: bool = False  # a whole round failed: the games not yet finished were not played


def run_games(
    player: Player,
    jobs: Sequence[_Job],
    config: EvalConfig,
    judge: MoveJudge | None,
    progress: ProgressCallback | None = None,
    failures: _Failures | None = None,
) -> list[GameRecord]:
    """Play `jobs` with up to `config.batch_size` games in flight; one `player.act` call per round.

    A turn the player could not answer (`EndpointError`) ends its game as "failed", kept out of the results and
    added to `failures`; when every turn of a round fails, the games not yet finished are not played either."""
    failures = failures if failures is not None else _Failures()
    env_kwargs = {
        "invalid_move": config.invalid_move,
        "max_retries": config.max_retries,
        "answer": AnswerFormat(mode=config.answer_mode),
        "board_layout": config.board_layout,
    }
    if config.invalid_move != "retry":
        env_kwargs.pop("max_retries")
    free: dict[str, list[TextGameEnv]] = {}  # envs are reused between games
    opponents: dict[str, Any] = {}  # one opponent per tier for all envs: one search cache, one model loaded
    pending, done = deque(jobs), []
    per_move = 0.0  # seconds of the player's last call, per turn

    def start() -> Iterator[Table]:
        while pending:
            job = pending.popleft()
            envs = free.setdefault(job.tier, [])
            env = (
                envs.pop()
                if envs
                else TextGameEnv(
                    game=config.game,
                    opponent=job.tier,
                    game_kwargs=config.game_kwargs,
                    opponent_cache=opponents,
                    **env_kwargs,
                )
            )
            options = {"agent_seat": job.seat, "opponent_seed": job.opponent_seed, "start": list(job.start)}
            _, info = env.reset(seed=job.env_seed, options=options)
            record = GameRecord.unplayed(job, player.name)
            slot = _Slot(job, np.random.default_rng(job.player_seed), record)
            yield Table(env, info, data=slot, transcript=record.transcript)

    def leave(table: Table) -> None:
        free.setdefault(table.data.job.tier, []).append(table.env)  # reset before its next game
        if progress is not None:
            progress(1, len(jobs))

    def answer(active: list[Table]) -> list[str | None] | None:
        nonlocal per_move
        turns = [Turn(_messages(t, config), t.env.state, tuple(t.info["legal_moves"]), t.data.rng) for t in active]
        started = time.perf_counter()
        answers: list[str | None]
        try:
            answers = list(player.act(turns))
        except EndpointError as exc:
            failures.error = str(exc)
            answers = exc.completions if len(exc.completions) == len(turns) else [None] * len(turns)
        per_move = (time.perf_counter() - started) / len(turns)
        if len(answers) != len(turns):
            raise ArenaError(f"player {player.name!r} returned {len(answers)} completions for {len(turns)} turns")
        if all(a is None for a in answers):  # the endpoint is down: stop rather than fail every game slowly
            failures.stopped = True
            unplayed = [t.data.record for t in active] + [GameRecord.unplayed(job, player.name) for job in pending]
            for rec in unplayed:
                rec.result = "failed"
            failures.games += unplayed
            return None
        for table, text in zip(active, answers, strict=True):
            if text is None:
                table.data.record.result = "failed"
                failures.games.append(table.data.record)
                leave(table)
        return answers

    def on_step(table: Table, played: Played) -> bool:
        slot, info = table.data, played.info
        rec = slot.record
        slot.chat += [dict(table.info["messages"][-1]), {"role": "assistant", "content": played.answer}]
        rec.seconds += per_move
        rec.think_chars += len(info.get("think") or "")
        if info.get("invalid_kind") is None and info.get("agent_move") is not None:
            move = int(info["agent_move"])
            rec.agent_choices.append((table.env.game.key(played.before), move))
            if judge is not None:
                rec.verdicts.append(judge.judge(played.before, move))
        if played.over:
            rec.finish(table.env.outcome)
            done.append(rec)
            leave(table)
        return True

    play_batched(start(), answer, on_step, in_flight=config.batch_size)
    return done


def evaluate(
    player: Player | str | tuple[Any, Any],
    game: str = "tictactoe",
    tiers: Sequence[str] = DEFAULT_TIERS,
    games_per_tier: int = 100,
    seed: int = 0,
    *,
    config: EvalConfig | None = None,
    progress: bool = False,
    player_options: dict[str, Any] | None = None,
    mix_with: Sequence[Player | str | tuple[Any, Any]] = (),
    **overrides: Any,
) -> EvalReport:
    """Evaluate a player against opponent tiers.

    `player` is a `Player`, a spec string (tier name, "tiny", "model:<path>"; see `make_player`) or an
    in-memory `(model, tokenizer)` pair, as training passes it. `config` (or keyword `overrides` of its fields)
    sets everything else; the positional arguments fill `game`, `tiers`, `games_per_tier` and `seed` when no
    config is given. `player_options` go to the player built from a spec or a pair (`temperature`, `top_p`,
    `max_new_tokens`, `base_url`, ...: see `make_player`).

    `mix_with` names more players (built the same way) that share the pass@k games with `player`, each playing
    an equal part of every problem's games: pass@k of the mixture (see `arena.evaluation.pass_k`). The tier games
    and probes are `player`'s alone.
    """
    if config is None:
        config = EvalConfig(game=game, tiers=tuple(tiers), games_per_tier=games_per_tier, seed=seed, **overrides)
    elif overrides:
        config = EvalConfig.model_validate({**config.model_dump(), **overrides})
    if mix_with and not config.pass_k:
        raise ArenaError("a mixture of players is judged by pass@k only: set pass_k (--pass-k) too")
    if config.pass_k:
        check_pass_k(config.pass_k, config.pass_k_games, 1 + len(mix_with))
    rules = config.rules()
    given = (player, *mix_with)
    players = [_as_player(p, config, rules, player_options) for p in given]
    player = players[0]
    judge = MoveJudge(rules, exact_max_length=config.move_quality_max_moves) if config.move_quality else None

    jobs: list[_Job] = []
    for tier in config.tiers:
        jobs += _jobs(config, tier, tier, config.games_per_tier)
    if config.probes:
        for tier in MEMORISATION_TIERS:
            if tier not in config.tiers:
                jobs += _jobs(config, f"probe:{tier}", tier, config.probe_games)
        group = f"probe:starts:{config.probe_tier}"
        jobs += _jobs(config, group, config.probe_tier, config.probe_games, start_plies=config.start_plies)
    share = config.pass_k_games // len(players) if config.pass_k else 0
    pass_k_jobs = [
        [
            job
            for tier in config.tiers
            for job in _jobs(
                config,
                f"pass@k:{tier}",
                tier,
                config.pass_k_problems,
                start_plies=config.pass_k_start_plies,
                samples=range(p * share, (p + 1) * share),
            )
        ]
        for p in range(len(players) if config.pass_k else 0)
    ]

    started = time.perf_counter()
    bar, task, callback = None, None, None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]eval[/bold]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        task = bar.add_task("games", total=len(jobs) + sum(map(len, pass_k_jobs)))
        bar.start()

        def callback(done: int, total: int) -> None:
            bar.advance(task, done)

    failures = _Failures()
    try:
        records = run_games(player, jobs, config, judge, callback, failures)
        pass_k_records = [
            run_games(players[p], mine, config, None, callback, failures) for p, mine in enumerate(pass_k_jobs)
        ]
    finally:
        if bar is not None:
            bar.stop()
        for built, asked in zip(players, given, strict=True):
            if not isinstance(asked, Player):  # built here: closed here
                built.close()
    elapsed = time.perf_counter() - started

    by_group: dict[str, list[GameRecord]] = {}
    for rec in sorted(records, key=lambda r: (r.group, r.index)):
        by_group.setdefault(rec.group, []).append(rec)
    failed = Counter(g.group for g in failures.games)
    tier_entries = [tier_stats(t, by_group.get(t, []), failed[t]) for t in config.tiers]
    return EvalReport(
        config=config,
        player=player.name,
        tiers=tier_entries,
        rating=_rating(config, tier_entries),
        probes=_probes(config, by_group) if config.probes else {},
        games=[r for t in config.tiers for r in by_group.get(t, [])]
        + sorted((r for mine in pass_k_records for r in mine), key=lambda r: (r.group, r.index, r.sample or 0)),
        elapsed_s=elapsed,
        solver=judge.solver if judge is not None else "off",
        solver_note=judge.note if judge is not None else "",
        failures=_failure_summary(player, len(jobs) + sum(map(len, pass_k_jobs)), failures),
        pass_at_k=_pass_k_report(config, players, pass_k_records),
    )


def _as_player(
    player: Player | str | tuple[Any, Any], config: EvalConfig, rules: Any, options: dict[str, Any] | None
) -> Player:
    """A `Player` as given, or built from a spec string or an in-memory `(model, tokenizer)` pair."""
    if isinstance(player, tuple):
        from arena.evaluation.players import HFPlayer

        model, tokenizer = player
        return HFPlayer(model, tokenizer, **{"batch_size": config.batch_size, "name": "model", **(options or {})})
    if isinstance(player, str):
        options = {"batch_size": config.batch_size, **(options or {})}
        return make_player(player, rules, answer=AnswerFormat(mode=config.answer_mode), **options)
    return player


def _pass_k_report(
    config: EvalConfig, players: Sequence[Player], records: Sequence[Sequence[GameRecord]]
) -> dict[str, Any]:
    """The report's `pass_at_k` section: how it was played and one entry a tier (see `pass_k_entry`)."""
    if not config.pass_k:
        return {}
    share, tiers = config.pass_k_games // len(players), []
    for tier in config.tiers:
        problems: list[list[list[GameRecord]]] = [[[] for _ in players] for _ in range(config.pass_k_problems)]
        for p, mine in enumerate(records):
            for rec in mine:
                if rec.tier == tier:
                    problems[rec.index][p].append(rec)
        complete = [games for games in problems if all(len(mine) == share for mine in games)]
        entry = pass_k_entry(tier, config.pass_k, [p.name for p in players], complete)
        entry["incomplete_problems"] = len(problems) - len(complete)  # a game failed (an endpoint): left out
        tiers.append(entry)
    return {
        "k": list(config.pass_k),
        "players": [p.name for p in players],
        "games_per_problem": config.pass_k_games,
        "games_per_player": config.pass_k_games // len(players),
        "problems_per_tier": config.pass_k_problems,
        "start_plies": config.pass_k_start_plies,
        "tiers": tiers,
    }


def _failure_summary(player: Player, games: int, failures: _Failures) -> dict[str, Any]:
    """How many games and requests failed: all zero unless a player's requests failed (a chat endpoint)."""
    return {
        "games": games,
        "failed_games": len(failures.games),
        "stopped_early": failures.stopped,
        "failed_requests": getattr(player, "failed_requests", None),  # after all their retries
        "attempts": getattr(player, "requests", None),
        "failed_attempts": getattr(player, "failures", None),
        "error": failures.error,
    }


def _rating(config: EvalConfig, entries: Sequence[TierStats]) -> dict[str, Any]:
    # A game without a calibrated table is rated against `random` at 0, the zero of every table.
    # The documented ratings are of the game on its default board; another board is anchored by random alone.
    default_board = config.rules().info.name == get_spec(config.game).game().info.name
    anchors = dict(DEFAULT_ANCHORS.get(config.game, {"random": 0.0}) if default_board else {"random": 0.0})
    anchors.update(config.anchors or {})
    used = {t["tier"]: anchors[t["tier"]] for t in entries if t["tier"] in anchors and t["games"]}
    out: dict[str, Any] = {"anchors": used, "unanchored_tiers": [t["tier"] for t in entries if t["tier"] not in used]}
    if not used:
        out.update(rating=None, low=None, high=None, games=0)
        return out
    fit = fit_rating([(used[t["tier"]], t["games"], t["wins"] + t["draws"] / 2) for t in entries if t["tier"] in used])
    out.update(fit.to_dict())
    return out


def _probes(config: EvalConfig, by_group: dict[str, list[GameRecord]]) -> dict[str, Any]:
    def games(tier: str) -> list[GameRecord]:
        return by_group.get(tier) or by_group.get(f"probe:{tier}", [])

    perfect, first = games("perfect"), games("perfect-first")
    score = {k: _rate(sum(g.score for g in v), len(v)) for k, v in (("perfect", perfect), ("perfect-first", first))}
    gap = None if None in score.values() else score["perfect-first"] - score["perfect"]  # type: ignore[operator]
    entropy, positions = move_entropy(c for g in first for c in g.agent_choices)
    starts = by_group.get(f"probe:starts:{config.probe_tier}", [])
    return {
        "memorisation": {
            "score_vs_perfect": score["perfect"],
            "score_vs_perfect_first": score["perfect-first"],
            "gap": gap,
            "note": "score vs perfect-first minus score vs perfect; a large positive gap means memorised lines",
        },
        "unseen_starts": {
            "tier": config.probe_tier,
            "start_plies": config.start_plies,
            **{k: v for k, v in tier_stats(config.probe_tier, starts).items() if k in _START_KEYS},
        },
        "diversity": {
            "games": len(first),
            "distinct_lines": len({tuple(g.moves) for g in first}),
            "move_entropy_bits": entropy,
            "positions_repeated": positions,
            "note": "games against perfect-first (deterministic): 1 distinct line per seat and 0 bits is mode collapse",
        },
    }


_START_KEYS = ("games", "wins", "draws", "losses", "score", "score_ci", "invalid_move_rate", "blunder_rate")
