"""How a finished game went for the agent: one typed value, handed over by the env when a game ends
(`TextGameEnv.outcome`), and read by rollouts, evaluation, curricula and transcripts instead of the keys of the
env's `info` dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from arena.errors import ArenaError

Result = Literal["win", "draw", "loss", "truncated"]
#: What each result is worth in a score: a truncated game counts as a loss.
SCORES: dict[str, float] = {"win": 1.0, "draw": 0.5, "loss": 0.0, "truncated": 0.0}


@dataclass(frozen=True)
class Outcome:
    """A finished game from the agent's side.

    `result` is win, draw, loss (a forfeit is a loss) or truncated (cut off by `max_agent_turns`, or by a rollout's
    token budget). `invalid_moves` counts the agent's unparseable and illegal answers; `format_errors` its answers
    that broke the strict answer shape.
    """

    result: Result
    seat: Literal["first", "second"]
    opponent: str
    moves: tuple[int, ...]
    agent_turns: int
    format_errors: int
    unparseable_moves: int
    illegal_moves: int
    invalid_moves: int
    forfeit: bool = False

    @property
    def score(self) -> float:
        """1 for a win, 0.5 for a draw, 0 for a loss or a truncated game."""
        return SCORES[self.result]

    @property
    def formatted_turns(self) -> int:
        """Agent turns whose answer was well formatted."""
        return self.agent_turns - self.format_errors

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Outcome:
        """The outcome in the `info` dict of the env step that ended a game."""
        if info.get("result") is None:
            raise ArenaError(
                "info['result'] is None: the game has not ended; read the outcome from the info of the step that "
                "returned terminated or truncated"
            )
        missing = [key for key in ("opponent", "seat", "moves") if key not in info]
        if missing:
            raise ArenaError(f"info lacks {missing}; pass the info dict returned by TextGameEnv.step")
        return cls(
            result=info["result"],
            seat=info["seat"],
            opponent=str(info["opponent"]),
            moves=tuple(int(m) for m in info["moves"]),
            agent_turns=int(info.get("agent_turns", 0)),
            format_errors=int(info.get("format_errors", 0)),
            unparseable_moves=int(info.get("unparseable_moves", 0)),
            illegal_moves=int(info.get("illegal_moves", 0)),
            invalid_moves=int(info.get("invalid_moves", 0)),
            forfeit=bool(info.get("forfeit", False)),
        )
