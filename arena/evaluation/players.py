"""Players under evaluation: scripted tiers, Hugging Face causal LMs, and OpenAI-compatible chat endpoints.

A player answers a batch of turns with completions in the answer format; the env parses them exactly as in
training, so prompts, parsing and penalties are the same for every kind of player.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import numpy as np

from arena.errors import ArenaError, MissingExtraError, OpponentSpecError
from arena.games.base import Game
from arena.generation import ChatModel, batch_seed
from arena.models.loading import load_pretrained
from arena.text import AnswerFormat, clip

Messages = list[dict[str, str]]


class EndpointError(ArenaError):
    """Requests to a chat endpoint failed after all retries (the message names the URL and the reason, never the
    key). `completions` holds the batch's answers that did arrive, None where a request failed."""

    def __init__(self, message: str, completions: Sequence[str | None] = ()) -> None:
        super().__init__(message)
        self.completions = list(completions)


@dataclass(frozen=True)
class Turn:
    """One decision: the chat messages the env would show a model, the state, and this game's player RNG."""

    messages: Messages
    state: Any
    legal_moves: tuple[int, ...]
    rng: np.random.Generator


class Player(ABC):
    """Something that plays: maps a batch of turns to completions (`<think>...</think><move>N</move>`)."""

    name: str = "player"

    @abstractmethod
    def act(self, turns: Sequence[Turn]) -> list[str]:
        """One completion per turn, in order."""

    def close(self) -> None:
        """Release resources (thread pools, models). Safe to call twice."""
        return None  # nothing to release by default

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ScriptedPlayer(Player):
    """A scripted opponent tier as the player under evaluation: it reads the state, not the text."""

    def __init__(self, opponent: Any, answer: AnswerFormat | None = None) -> None:
        self.opponent = opponent
        self.answer = answer or AnswerFormat()
        self.name = opponent.name

    def act(self, turns: Sequence[Turn]) -> list[str]:
        moves = self.opponent.choose_many([t.state for t in turns], [t.rng for t in turns])
        return [self.answer.example("", move) for move in moves]


class HFPlayer(ChatModel, Player):
    """A transformers causal LM: chat template on the env's messages, batched (left-padded) generation.

    Works with the embedded tiny model, any local checkpoint (including a training run's checkpoint-N
    directory) or a hub id. Generation is training's (`arena.generation.TransformersBackend`, through
    `ChatModel`): sampling is seeded per batch from the games' RNGs with a generator of its own (torch's global one
    is not touched), at the temperature and top-p given (the model's own sampling defaults, such as a top-k, do not
    apply).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "model",
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        batch_size: int = 64,
        answer: AnswerFormat | None = None,
    ) -> None:
        super().__init__(
            model,
            tokenizer,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            move_tag=(answer or AnswerFormat()).move_tag,
        )
        self.name = name

    @classmethod
    def from_pretrained(
        cls, path: str, *, device: str = "auto", dtype: str = "auto", name: str | None = None, **kwargs: Any
    ) -> HFPlayer:
        """Load a model and tokenizer by local path (a checkpoint, or a run directory: its latest checkpoint-N)
        or hub id."""
        model, tokenizer = load_pretrained(path, device=device, dtype=dtype)
        return cls(model, tokenizer, name=name or f"model:{path}", **kwargs)

    def act(self, turns: Sequence[Turn]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(turns), self.batch_size):
            batch = turns[start : start + self.batch_size]
            out.extend(self.reply([t.messages for t in batch], batch_seed([t.rng for t in batch])))
        return out


class OpenAIPlayer(Player):
    """Any OpenAI-compatible chat endpoint (vLLM, `transformers serve`, a hosted model), through the `openai`
    client (the `openai` extra).

    Requests run concurrently (at most `concurrency` in flight) on one pooled async client. Every failed request
    is retried with exponential backoff: a connection error, a timeout, a 429 or 5xx answer, and an answer that
    is not a chat completion (no choices, no message, a body cut short). A 4xx answer other than 429 is not
    retried. `timeout` bounds a whole request, however slowly the server sends it. When requests still fail,
    `act` raises `EndpointError` holding the completions that did arrive, so an evaluation keeps its games.
    The API key is read from the environment variable `api_key_env` (none needed if unset) and is sent only in
    the Authorization header: it never appears in logs, reports or error messages.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        concurrency: int = 8,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 60.0,
        name: str | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ArenaError(f"base URL must start with http:// or https://, got {clip(base_url)}")
        if concurrency < 1 or retries < 0 or backoff < 0 or timeout <= 0:
            raise ArenaError(
                f"invalid endpoint settings: concurrency={concurrency} (>= 1), retries={retries} (>= 0), "
                f"backoff={backoff} (>= 0), timeout={timeout} (> 0)"
            )
        self._openai = _openai_extra()
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.name = model, name or f"openai:{model}"
        self.temperature, self.top_p, self.max_tokens = temperature, top_p, max_tokens
        self.concurrency, self.retries, self.backoff, self.timeout = concurrency, retries, backoff, timeout
        self.api_key_env = api_key_env
        self._api_key = os.environ.get(api_key_env) or None
        # The key is always passed (the client would otherwise read OPENAI_API_KEY, perhaps another service's
        # key); with none, the Authorization header is left out of each request. Our own retry loop, not the
        # client's: answers that are not chat completions are retried as well.
        self._client = self._openai.AsyncOpenAI(
            base_url=base_url.rstrip("/"), api_key=self._api_key or "no-key", max_retries=0, timeout=timeout
        )
        self._headers = {} if self._api_key else {"Authorization": self._openai.Omit()}
        # One event loop in a thread of its own: `act` works the same from a script and from a notebook (whose
        # own loop is already running in the main thread).
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="arena-endpoint", daemon=True)
        self._thread.start()
        self.requests = self.failures = 0  # attempts made and attempts that failed (retried or not)
        self.failed_requests = 0  # requests that failed after all their retries
        self.last_error: str | None = None

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIPlayer(url={self.url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            with contextlib.suppress(Exception):  # closing is best effort: the pool goes with the loop anyway
                asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()

    def act(self, turns: Sequence[Turn]) -> list[str]:
        if self._loop.is_closed():
            raise ArenaError(f"{self!r} is closed")
        seeds = [int(t.rng.integers(1 << 31)) for t in turns]
        outcomes = asyncio.run_coroutine_threadsafe(self._act([t.messages for t in turns], seeds), self._loop).result()
        failed = [o for o in outcomes if isinstance(o, _Failure)]
        if failed:
            completions = [None if isinstance(o, _Failure) else o for o in outcomes]
            message = f"chat endpoint {self.url} (model {self.model!r}): {len(failed)} of {len(turns)} requests failed"
            raise EndpointError(self._redact(f"{message}; last: {failed[-1].reason}"), completions)
        return [str(o) for o in outcomes]

    async def _act(self, batch: list[Messages], seeds: list[int]) -> list[str | _Failure]:
        slots = asyncio.Semaphore(self.concurrency)
        return list(await asyncio.gather(*(self._complete(m, s, slots) for m, s in zip(batch, seeds, strict=True))))

    async def _complete(self, messages: Messages, seed: int, slots: asyncio.Semaphore) -> str | _Failure:
        openai = self._openai
        reason = "no attempt made"
        async with slots:
            for attempt in range(self.retries + 1):
                if attempt:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                self.requests += 1  # one thread runs every coroutine: no lock needed
                request = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=self.temperature,
                    top_p=self.top_p,
                    max_tokens=self.max_tokens,
                    seed=seed,
                    extra_headers=self._headers,
                )
                try:
                    # The client's timeout bounds each read; this bounds the whole request.
                    return _completion_text(await asyncio.wait_for(request, self.timeout))
                except (asyncio.TimeoutError, openai.APITimeoutError):
                    reason = f"timed out after {self.timeout:g} s"
                except openai.APIStatusError as exc:
                    reason = f"HTTP {exc.status_code} {_status_phrase(exc.status_code)}"
                    if exc.status_code != 429 and exc.status_code < 500:
                        self.failures += 1
                        break  # a client error (bad model name, bad request) will not get better by retrying
                except openai.APIConnectionError as exc:
                    reason = f"connection failed ({exc.__cause__ or exc})"
                except (openai.APIError, MalformedResponseError) as exc:
                    reason = f"malformed response ({exc})"
                self.failures += 1
        self.failed_requests += 1
        self.last_error = self._redact(reason)
        return _Failure(self.last_error)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


@dataclass(frozen=True)
class _Failure:
    reason: str


class MalformedResponseError(ArenaError, ValueError):
    """An endpoint answered, but not with a chat completion."""


def _status_phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def _completion_text(response: Any) -> str:
    """The completion as the model wrote it. Servers that split reasoning out (vLLM's reasoning parser,
    `transformers serve` for Qwen-style models) get it put back inside <think>...</think>."""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedResponseError("no choices" if isinstance(choices, list) else "not a chat completion")
    message = getattr(choices[0], "message", None)
    if message is None:
        raise MalformedResponseError("a choice without a message")
    content = getattr(message, "content", None) or ""
    reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    if not isinstance(content, str) or not isinstance(reasoning, (str, type(None))):
        raise MalformedResponseError("a message whose content is not text")
    if reasoning and "<think>" not in content:
        content = f"<think>{reasoning}</think>\n{content.lstrip()}"
    return content


def _openai_extra() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise MissingExtraError(
            f"OpenAI-compatible players need the openai extra: pip install 'arena[openai]' ({exc})"
        ) from exc
    return openai


def make_player(
    spec: str | Player,
    game: Game[Any],
    *,
    answer: AnswerFormat | None = None,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    batch_size: int = 64,
    device: str = "auto",
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 8,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 60.0,
) -> Player:
    """A player from a spec string.

    - a tier name ("random", "depth-2", "perfect", ...): the scripted opponent plays;
    - "tiny" or "tiny:<seed>": the embedded tiny model, freshly initialised;
    - "model:<path or hub id>": a transformers causal LM (a run directory plays its latest checkpoint; a catalog
      name such as "smollm2-135m" plays the model `arena models install` made);
    - "openai:<model>": an OpenAI-compatible endpoint at `base_url`.
    """
    if isinstance(spec, Player):
        return spec
    sampling = {"temperature": temperature, "top_p": top_p}
    if spec == "tiny" or spec.startswith("tiny:"):
        from arena.models import build_tiny_model

        seed_text = spec.partition(":")[2] or "0"
        if not seed_text.isdigit():
            raise OpponentSpecError(f"tiny model seed must be a non-negative integer, got {clip(seed_text)}")
        model, tokenizer = build_tiny_model(seed=int(seed_text), game=game.name)
        return HFPlayer(model, tokenizer, name=spec, max_new_tokens=max_new_tokens, batch_size=batch_size, **sampling)
    if spec.startswith("model:"):
        return HFPlayer.from_pretrained(
            spec[len("model:") :], device=device, max_new_tokens=max_new_tokens, batch_size=batch_size, **sampling
        )
    if spec.startswith("openai:"):
        if not base_url:
            raise ArenaError("an openai:<model> player needs a base URL (--base-url http://host:port/v1)")
        return OpenAIPlayer(
            base_url,
            spec[len("openai:") :],
            api_key_env=api_key_env,
            max_tokens=max_new_tokens,
            concurrency=concurrency,
            retries=retries,
            backoff=backoff,
            timeout=timeout,
            **sampling,
        )
    from opponents import make_opponent

    return ScriptedPlayer(make_opponent(spec, game), answer)
