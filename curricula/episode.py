"""What a curriculum hands out (an episode spec for `env.reset`) and what it takes back (a game result)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from arena.errors import CurriculumError
from arena.outcome import SCORES, Outcome, Result
from opponents.spec import OpponentSpec, parse_opponent

#: The seat an episode spec fixes. "random" is a config choice resolved by the curriculum, never an episode's:
#: a GRPO group must share its seat, and the env would draw "random" per episode from its own generator.
EpisodeSeat = Literal["first", "second"]
SeatChoice = Literal["random", "first", "second"]

#: Score of each outcome from the agent's side (`arena.outcome.SCORES`). A truncated game is scored as a loss:
#: stalling is not winning.
OUTCOME_SCORE = SCORES

#: Upper bound (exclusive) of drawn opponent seeds; the env accepts any non-negative int64.
SEED_BOUND = 2**63 - 1


def _coerce_opponent(value: Any) -> Any:
    # Tier names ("noisy-0.3", "model:ckpt/step-100") are the YAML-friendly form; dicts and specs pass through.
    if isinstance(value, str):
        return parse_opponent(value)
    return value


#: An opponent spec that also accepts a tier name.
OpponentField = Annotated[OpponentSpec, BeforeValidator(_coerce_opponent)]


class EpisodeSpec(BaseModel):
    """One episode's setup; every field is an `env.reset(options=...)` key of the same name.

    Group members share one spec (same opponent, seat, start and opponent seed) so GRPO's group baseline
    compares the same game.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    opponent: OpponentField = Field(description="Who the agent plays (a tier name or an opponent spec).")
    agent_seat: EpisodeSeat = Field(description="The agent's seat: 'first' moves first from the empty board.")
    start: tuple[int, ...] = Field((), description="Moves played before the episode starts (the opening).")
    opponent_seed: int = Field(ge=0, lt=SEED_BOUND, description="Seed of the opponent's random generator.")

    @property
    def tier(self) -> str:
        """The opponent's canonical tier name (e.g. 'noisy-0.3'), as the env reports it in `info['opponent']`."""
        return self.opponent.tier

    def to_options(self) -> dict[str, Any]:
        """The `options` dict for `TextGameEnv.reset`; plain JSON values, so it can be logged or sent to workers."""
        return {
            "opponent": self.opponent.model_dump(mode="json"),
            "agent_seat": self.agent_seat,
            "start": list(self.start),
            "opponent_seed": self.opponent_seed,
        }


class GameResult(BaseModel):
    """A finished game as a curriculum needs it: who the agent played, from which seat, and how it went."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opponent: str = Field(min_length=1, description="The opponent's tier name (the env's info['opponent']).")
    seat: EpisodeSeat = Field(description="The agent's seat.")
    outcome: Result = Field(description="win, draw, loss (a forfeit is a loss) or truncated.")
    invalid_moves: int = Field(0, ge=0, description="Unparseable or illegal agent moves in the game.")

    @property
    def score(self) -> float:
        """1 for a win, 0.5 for a draw, 0 for a loss or a truncated game."""
        return OUTCOME_SCORE[self.outcome]

    @classmethod
    def of(cls, outcome: Outcome) -> GameResult:
        """The result of a game the env ended (`TextGameEnv.outcome`)."""
        return cls(
            opponent=outcome.opponent, seat=outcome.seat, outcome=outcome.result, invalid_moves=outcome.invalid_moves
        )

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> GameResult:
        """The result of a finished episode from the env's last `info` dict."""
        outcome = info.get("result")
        if outcome is None:
            raise CurriculumError(
                "info['result'] is None: the episode has not ended; build a GameResult from the info of the "
                "step that returned terminated or truncated"
            )
        missing = [key for key in ("opponent", "seat") if key not in info]
        if missing:
            raise CurriculumError(f"info lacks {missing}; pass the info dict returned by TextGameEnv.step")
        return cls(
            opponent=str(info["opponent"]),
            seat=info["seat"],
            outcome=outcome,
            invalid_moves=int(info.get("invalid_moves", 0)),
        )
