"""A language model as an opponent: a frozen snapshot for league play, or any model to play against.

The model sees exactly what the env shows an agent (system prompt, board, side to move, legal moves) and
answers in the env's answer format. An answer that gives no legal move is replaced by a uniformly random legal
move drawn from the `rng` passed in, and counted in `invalid_moves`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from arena.errors import ArenaError, GameOverError, IllegalMoveError
from arena.games.base import Game
from arena.text import AnswerFormat, Renderer, chat_messages, parse_answer

from .base import Opponent

if TYPE_CHECKING:
    from arena.games.registry import GameSpec

    from .spec import ModelSpec


class ModelOpponent(Opponent):
    """Plays a transformers causal LM given by a `ModelSpec` (path or hub id, sampling settings).

    `model` and `tokenizer` may be passed in to play an in-memory model (e.g. the policy being trained);
    otherwise they are loaded from `spec.path` on first use (`arena.models.loading.load_pretrained`).
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
        self._chat: Any = None
        self._renderer: Renderer | None = None
        self.moves_played = 0
        self.invalid_moves = 0  # answers with no legal move, replaced by a random legal move

    def __getstate__(self) -> dict[str, Any]:
        # The model is reloaded from its path after unpickling (an in-memory one cannot travel).
        return {**self.__dict__, "_model": None, "_tokenizer": None, "_chat": None}

    def messages_for(self, state: Any) -> list[dict[str, str]]:
        """The chat the model reads in `state`: what `TextGameEnv` shows an agent there, in the spec's layout."""
        if self._renderer is None:
            self._renderer = _registered(self.game).renderer(self.game, self.spec.board_layout)
        return chat_messages(self.game, self._renderer, self.answer, state)

    def _ensure_loaded(self) -> None:
        if self._chat is not None:
            return
        from arena.generation import ChatModel
        from arena.models.loading import load_pretrained

        if self._model is None:
            self._model, self._tokenizer = load_pretrained(self.spec.path)
        elif self._tokenizer is None:
            raise ArenaError("a ModelOpponent given a model also needs its tokenizer")
        self._chat = ChatModel(
            self._model,
            self._tokenizer,
            temperature=self.spec.temperature,
            top_p=self.spec.top_p,
            max_new_tokens=self.spec.max_new_tokens,
            move_tag=self.answer.move_tag,
        )

    def completions(self, states: Sequence[Any], rngs: Sequence[np.random.Generator]) -> list[str]:
        """The model's raw answers in several games' states, generated together; the sampling seed is drawn from
        every game's generator (`batch_seed`), so the same games in the same batch give the same answers."""
        from arena.generation import batch_seed

        chats = [self.messages_for(state) for state in states]
        self._ensure_loaded()
        return self._chat.reply(chats, batch_seed(rngs))

    def choose(self, state: Any, rng: np.random.Generator) -> int:
        return self.choose_many([state], [rng])[0]

    def choose_many(self, states: Sequence[Any], rngs: Sequence[np.random.Generator]) -> list[int]:
        """The model's moves in several games, answered in one batched generation."""
        if not states:
            return []  # nothing to generate (a generation of no contexts is not one)
        legal = [self.game.legal_moves(state) for state in states]
        for state, moves in zip(states, legal, strict=True):
            if not moves:
                raise GameOverError(f"no legal move: the game is over in {state}")
        answers = self.completions(states, rngs)
        return [self._move(s, m, a, r) for s, m, a, r in zip(states, legal, answers, rngs, strict=True)]

    def _move(self, state: Any, legal: Sequence[int], answer: str, rng: np.random.Generator) -> int:
        """The move `answer` plays in `state`, or a random legal one (counted in `invalid_moves`) if none."""
        move = parse_answer(answer, self.answer).move
        self.moves_played += 1
        if move is not None:
            try:
                self.game.apply(state, move)
                return int(move)
            except IllegalMoveError:
                pass
        self.invalid_moves += 1
        return int(legal[int(rng.integers(len(legal)))])


def _registered(game: Game[Any]) -> GameSpec:
    from arena.games.registry import list_games

    for spec in list_games():
        if spec.make_game is type(game):
            return spec
    raise ArenaError(f"game {game.name!r} is not registered; register it to play a model on it")
