"""Episode reward policy: outcome, a format bonus and an invalid-move penalty, reported per component."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RewardConfig(BaseModel):
    """How a finished episode is scored. The total is outcome + format + invalid, paid on the last step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    win: float = Field(1.0, description="Outcome reward when the agent wins.")
    draw: float = Field(0.5, description="Outcome reward for a draw.")
    loss: float = Field(0.0, description="Outcome reward when the agent loses (a forfeit is a loss).")
    truncated: float = Field(0.0, description="Outcome reward when the episode is cut off by max_agent_turns.")
    format_weight: float = Field(
        0.2, ge=0.0, description="Weight of the share of agent turns whose answer was well formatted."
    )
    invalid_penalty: float = Field(
        -0.1, le=0.0, description="Added once if any invalid move (unparseable or illegal) happened in the game."
    )

    @model_validator(mode="after")
    def _ordered(self) -> RewardConfig:
        if not self.loss <= self.draw <= self.win:
            raise ValueError(
                f"rewards must satisfy loss <= draw <= win, got loss={self.loss}, draw={self.draw}, win={self.win}"
            )
        return self

    def components(self, result: str, formatted_turns: int, agent_turns: int, invalid_moves: int) -> dict[str, float]:
        """Reward components of a finished episode; `result` is win, draw, loss or truncated."""
        outcome = {"win": self.win, "draw": self.draw, "loss": self.loss, "truncated": self.truncated}[result]
        share = formatted_turns / agent_turns if agent_turns else 0.0
        return {
            "outcome": outcome,
            "format": self.format_weight * share,
            "invalid": self.invalid_penalty if invalid_moves else 0.0,
        }
