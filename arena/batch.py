"""Many games in flight at once: the one loop that training's rollouts and evaluation play games with.

Each round asks for every game's answer in one batched call (a model generates them together), then steps each
game's env with its answer and records the turn. An opponent that games share replies to all of them in one call
too (a model opponent generates its moves together: `arena.env.play_opponents`). The games that end leave the
batch, and new ones join while fewer than `in_flight` are being played. What a caller keeps per game (token
ids, a game record) hangs on `Table.data`; what it does with each answer and each step is its own (`answer`,
`on_step`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from arena.env import TextGameEnv, play_opponents, turn_record
from arena.errors import ArenaError


@dataclass
class Table:
    """One game being played: its env, the env's info for the prompt now shown, and what the caller keeps."""

    env: TextGameEnv
    info: dict[str, Any]
    data: Any = None
    transcript: list[dict[str, Any]] = field(default_factory=list)  # a `turn_record` per agent turn

    @property
    def prompt(self) -> str:
        """The user turn now shown to the player."""
        return self.info["messages"][-1]["content"]


class Played(NamedTuple):
    """One answer stepped through a game's env: the state it answered, and what `step` returned."""

    answer: str
    before: Any
    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]

    @property
    def over(self) -> bool:
        return self.terminated or self.truncated


def play_batched(
    games: Iterable[Table],
    answer: Callable[[list[Table]], Sequence[str | None] | None],
    on_step: Callable[[Table, Played], bool],
    in_flight: int | None = None,
) -> None:
    """Play `games` to the end, a round at a time.

    `games` is read lazily: the next game is taken only while fewer than `in_flight` (None: no limit) are being
    played, so a generator can reset an env that an ended game just freed. Each round `answer` gets the games in
    flight and returns one answer each, or None for a game that could not be answered (it leaves the batch
    unstepped; `answer` records why), or returns None instead of a list to stop playing altogether. Each answer is
    stepped (`begin_step`, the opponents' replies for every game at once, `end_step`), its `turn_record` added to
    the game's transcript, and then `on_step(table, played)` runs while `table.info` is still the info the answer
    was given for. A game whose env ended it leaves the batch; one that goes on stays unless `on_step` returns
    False (the caller cuts it short, say at a token budget).
    """
    pending = iter(games)
    active: list[Table] = []
    exhausted = False
    while True:
        while not exhausted and (in_flight is None or len(active) < in_flight):
            table = next(pending, None)
            if table is None:
                exhausted = True
            else:
                active.append(table)
        if not active:
            return
        answers = answer(active)
        if answers is None:
            return
        if len(answers) != len(active):
            raise ArenaError(f"{len(answers)} answers for {len(active)} games in flight")
        answered = [(t, text, t.env.state) for t, text in zip(active, answers, strict=True) if text is not None]
        for table, text, _ in answered:
            table.env.begin_step(text)
        play_opponents([table.env for table, _, _ in answered])  # an opponent shared by games replies to all at once
        still = []
        for table, text, before in answered:
            played = Played(text, before, *table.env.end_step())
            table.transcript.append(turn_record(table.prompt, text, played.info))
            keep = on_step(table, played)
            table.info = played.info
            if keep and not played.over:
                still.append(table)
        active = still
