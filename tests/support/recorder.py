"""A scripted player that keeps what it was shown, shared by the evaluation tests."""

from __future__ import annotations

from arena.evaluation.players import Player


class Recorder(Player):
    """Plays the lowest legal move (its think block says "x") and keeps every chat it was shown."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[list[dict[str, str]]] = []

    @property
    def prompts(self) -> list[str]:
        """The user turn of each chat: the position as the player read it."""
        return [chat[-1]["content"] for chat in self.seen]

    def act(self, turns):
        self.seen += [t.messages for t in turns]
        return [f"<think>x</think><move>{min(t.legal_moves)}</move>" for t in turns]
