"""The opponent protocol: given a game state and an explicit random generator, return a legal move."""

from __future__ import annotations

from abc import ABC, abstractmethod
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
