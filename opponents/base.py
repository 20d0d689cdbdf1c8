"""The opponent protocol: given a game state and an explicit random generator, return a legal move."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from arena.errors import GameOverError, OpponentSpecError
from arena.games.base import Game


class Opponent(ABC):
    """A scripted player bound to one game's rules. All randomness comes from the `rng` passed in."""

    #: The tier name this opponent was built from (e.g. "noisy-0.3"), for logs and reports.
    name: str = "opponent"

    def __init__(self, game: Game[Any]) -> None:
        self.game = game

    @abstractmethod
    def choose(self, state: Any, rng: np.random.Generator) -> int:
        """A legal move for the player to move in `state`."""

    def choose_many(self, states: Sequence[Any], rngs: Sequence[np.random.Generator]) -> list[int]:
        """A move for each of several games at once, game i drawing from `rngs[i]` (each game its own generator):
        the moves `choose` gives one game at a time. An opponent that batches its work overrides it (a model answers
        the games in one generation, so its samples depend on the games it chooses with)."""
        return [int(self.choose(state, rng)) for state, rng in zip(states, rngs, strict=True)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, game={self.game.name!r})"


class RandomOpponent(Opponent):
    """Uniform over the legal moves."""

    name = "random"

    def choose(self, state: Any, rng: np.random.Generator) -> int:
        moves = self.game.legal_moves(state)
        if not moves:
            raise GameOverError(f"no legal move: the game is over in {state}")
        return moves[int(rng.integers(len(moves)))]


class NoisyOpponent(Opponent):
    """With probability `p` a uniformly random legal move, otherwise the inner opponent's move."""

    def __init__(self, game: Game[Any], inner: Opponent, p: float) -> None:
        super().__init__(game)
        if not 0.0 <= p <= 1.0:
            raise OpponentSpecError(f"noise probability must be in [0, 1], got {p}")
        self.inner, self.p = inner, p
        self._random = RandomOpponent(game)
        self.name = f"noisy-{p:g}"

    def choose(self, state: Any, rng: np.random.Generator) -> int:
        # Always draw the coin first so the stream of draws does not depend on which branch is taken.
        if rng.random() < self.p:
            return self._random.choose(state, rng)
        return self.inner.choose(state, rng)

    def choose_many(self, states: Sequence[Any], rngs: Sequence[np.random.Generator]) -> list[int]:
        # Each game's coin, then its random move or the inner opponent's (batched): each game's draws as `choose`'s.
        noisy = [rng.random() < self.p for rng in rngs]
        moves = [self._random.choose(s, r) if n else 0 for s, r, n in zip(states, rngs, noisy, strict=True)]
        inner = [i for i, n in enumerate(noisy) if not n]
        if inner:
            chosen = self.inner.choose_many([states[i] for i in inner], [rngs[i] for i in inner])
            for i, move in zip(inner, chosen, strict=True):
                moves[i] = move
        return [int(m) for m in moves]
