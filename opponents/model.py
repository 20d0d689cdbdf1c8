"""A language model as an opponent: a frozen snapshot for league play, or any model to play against.

The model sees exactly what the env shows an agent (system prompt, board, side to move, legal moves) and
answers in the env's answer format. An answer that gives no legal move is replaced by a uniformly random legal
move drawn from the `rng` passed in, and counted in `invalid_moves`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from arena.errors import ArenaError, GameOverError, IllegalMoveError
from arena.games.base import Game
from arena.text import AnswerFormat, parse_answer

from .base import Opponent
from .spec import ModelSpec


def env_messages(env: Any, state: Any) -> list[dict[str, str]]:
    """The chat messages `TextGameEnv` shows the player to move in `state`."""
    return env.messages_for(state)


class ModelOpponent(Opponent):
    """Plays a transformers causal LM given by a `ModelSpec` (path or hub id, sampling settings).

    `model` and `tokenizer` may be passed in to play an in-memory model (e.g. the policy being trained);
    otherwise they are loaded from `spec.path` on first use.
    """

    def __init__(
        self,
        game: Game[Any],
        spec: ModelSpec,
        model: Any = None,
        tokenizer: Any = None,
        answer: AnswerFormat | None = None,
    ) -> None:
        super().__init__(game)
        self.spec = spec
        self.name = spec.tier
        self.answer = answer or AnswerFormat()
        self._model, self._tokenizer = model, tokenizer
        self._player: Any = None
        self._env: Any = None
        self.moves_played = 0
        self.invalid_moves = 0  # answers with no legal move, replaced by a random legal move

    def __getstate__(self) -> dict[str, Any]:
        # The model is reloaded from its path after unpickling (an in-memory one cannot travel).
        return {**self.__dict__, "_model": None, "_tokenizer": None, "_player": None, "_env": None}

    def _ensure_loaded(self) -> None:
        if self._player is not None:
            return
        from arena.env import TextGameEnv
        from arena.evaluation.players import HFPlayer

        name = _registered_name(self.game)
        self._env = TextGameEnv(
            game=name, answer=self.answer, board_layout=self.spec.board_layout, game_kwargs=_game_kwargs(self.game)
        )
        settings = {
            "temperature": self.spec.temperature,
            "top_p": self.spec.top_p,
            "max_new_tokens": self.spec.max_new_tokens,
            "batch_size": 1,
        }
        if self._model is not None:
            if self._tokenizer is None:
                raise ArenaError("a ModelOpponent given a model also needs its tokenizer")
            self._player = HFPlayer(self._model, self._tokenizer, name=self.name, **settings)
        else:
            self._player = HFPlayer.from_pretrained(self.spec.path, name=self.name, **settings)

    def completion(self, state: Any, rng: np.random.Generator) -> str:
        """The model's raw answer in `state`."""
        from arena.evaluation.players import Turn

        self._ensure_loaded()
        turn = Turn(env_messages(self._env, state), state, tuple(self.game.legal_moves(state)), rng)
        return self._player.act([turn])[0]

    def choose(self, state: Any, rng: np.random.Generator) -> int:
        legal = self.game.legal_moves(state)
        if not legal:
            raise GameOverError(f"no legal move: the game is over in {state}")
        move = parse_answer(self.completion(state, rng), self.answer).move
        self.moves_played += 1
        if move is not None:
            try:
                self.game.apply(state, move)
                return int(move)
            except IllegalMoveError:
                pass
        self.invalid_moves += 1
        return int(legal[int(rng.integers(len(legal)))])


def _registered_name(game: Game[Any]) -> str:
    from arena.games.registry import list_games

    for spec in list_games():
        if spec.make_game is type(game):
            return spec.name
    raise ArenaError(f"game {game.name!r} is not registered; register it to play a model on it")


def _game_kwargs(game: Game[Any]) -> dict[str, Any]:
    # Connect four's board size is its only constructor state; other built-ins have none.
    if hasattr(game, "rows") and hasattr(game, "columns") and hasattr(game, "connect"):
        return {"rows": game.rows, "columns": game.columns, "connect": game.connect}
    return {}
