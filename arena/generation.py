"""Batched generation with transformers: the one path from chat contexts to answers, for training's rollouts and
evaluation's model players alike.

`TransformersBackend.generate` left-pads token contexts, prefills a context shared by several rows once, stops at the
end of the turn (or right after the closing move tag when it is one token), and samples with a `torch.Generator` of
its own, seeded per call: the same seed gives the same tokens whatever else runs, torch's global generator included
(TRL's update draws from it while games are played ahead in another thread). Logits processors make the rows of a
GRPO group try distinct moves (`DistinctMoves`) and give the move its own temperature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from arena.errors import ArenaError


def stop_token_ids(tokenizer: Any, texts: Sequence[str] = ()) -> list[int]:
    """Tokens that end an answer: end of turn, `<|im_end|>`, and each of `texts` that is a single token."""
    stop = {tokenizer.eos_token_id}
    for text in ("<|im_end|>", *texts):
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) == 1:
            stop.add(ids[0])
    return sorted(i for i in stop if i is not None)


class Backend(Protocol):
    """Samples one completion per context: returns (token ids, per-token log-probabilities) for each.

    `move_temperature`, when given, is the temperature of the tokens inside the move tag (the rest of the
    answer uses `temperature`); `distinct`, when given, makes the rows of a group choose distinct moves (see
    `DistinctMoves`). Backends that cannot do these refuse them.
    """

    def generate(
        self,
        contexts: Sequence[list[int]],
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
        move_temperature: float | None = None,
        distinct: DistinctMoves | None = None,
    ) -> list[tuple[list[int], list[float]]]: ...


@dataclass(frozen=True)
class DistinctMoves:
    """Rows that share a group try distinct moves: `groups[i]` is row i's group, `legal[i]` its legal moves.

    The first row of a group to reach its move samples it from the policy as usual, so the policy's own choice,
    an illegal one included, is always tried and scored. Each later row draws its move's first token from the
    policy restricted to the legal moves its group has not tried yet (sampling without replacement); once a
    group has tried every legal move, its rows sample freely.
    """

    groups: Sequence[int]
    legal: Sequence[Sequence[int]]


class _MoveReader:
    """Follows each generated row's text and tells which rows are inside the move tag (and at its first token)."""

    def __init__(self, tokenizer: Any, move_tag: str, prompt_width: int) -> None:
        self.tokenizer, self.prompt_width = tokenizer, prompt_width
        self.open_tag, self.close_tag = f"<{move_tag}>", f"</{move_tag}>"
        self.texts: list[str] = []

    def update(self, input_ids: Any) -> None:
        if not self.texts:
            self.texts = [""] * input_ids.shape[0]
        if input_ids.shape[1] > self.prompt_width:  # the text of each row grows by its newest token
            for i, tok in enumerate(input_ids[:, -1].tolist()):
                self.texts[i] += self.tokenizer.decode([tok], skip_special_tokens=False)

    def inside(self) -> list[bool]:
        return [t.rfind(self.open_tag) > t.rfind(self.close_tag) for t in self.texts]

    def at_move_start(self, i: int) -> bool:
        t = self.texts[i]
        at = t.rfind(self.open_tag)
        return at > t.rfind(self.close_tag) and not t[at + len(self.open_tag) :].strip()


def move_temperature_processor(tokenizer: Any, move_tag: str, base: float, move: float, prompt_width: int) -> Any:
    """A transformers logits processor that samples the tokens inside `<move_tag>...</move_tag>` at temperature
    `move` and leaves the rest at `base` (it runs before generate's own temperature warper, which divides by
    `base`). Exploration then goes into the decision, not into the wording of the reasoning or the tags, which
    a high temperature garbles into format errors."""
    from transformers import LogitsProcessor

    factor = base / move

    class MoveTemperature(LogitsProcessor):
        def __init__(self) -> None:
            self.reader = _MoveReader(tokenizer, move_tag, prompt_width)

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            self.reader.update(input_ids)
            rows = [i for i, flag in enumerate(self.reader.inside()) if flag]
            if rows:
                scores[rows] = scores[rows] * factor
            return scores

    return MoveTemperature()


def distinct_moves_processor(
    tokenizer: Any,
    move_tag: str,
    distinct: DistinctMoves,
    temperature: float,
    prompt_width: int,
    generator: Any = None,
) -> Any:
    """A transformers logits processor that makes the rows of a group try distinct legal moves (`DistinctMoves`).

    At a row's first token inside the move tag it draws that token itself, at `temperature` (the move's own): from
    the whole policy for the group's first row, from the first tokens of the legal moves the group has not tried
    for the others; then it leaves only that token possible. Rows are served in order, so two rows of a group
    that reach their move at the same step still differ. A move whose number is several tokens is told apart by
    its first token only; nucleus sampling (top-p) does not apply to these draws. Draws come from `generator` (a
    `torch.Generator`; torch's global one when None).
    """
    import torch
    from transformers import LogitsProcessor

    first_token = {}

    def token_of(move: int) -> int:
        if move not in first_token:
            first_token[move] = tokenizer.encode(str(move), add_special_tokens=False)[0]
        return first_token[move]

    class Distinct(LogitsProcessor):
        def __init__(self) -> None:
            self.reader = _MoveReader(tokenizer, move_tag, prompt_width)
            self.tried: dict[int, set[int]] = {}
            self.done: set[int] = set()

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            self.reader.update(input_ids)
            for i in range(scores.shape[0]):
                if i in self.done or not self.reader.at_move_start(i):
                    continue
                self.done.add(i)
                first = distinct.groups[i] not in self.tried
                tried = self.tried.setdefault(distinct.groups[i], set())
                candidates = (
                    list(range(scores.shape[1])) if first else sorted({token_of(m) for m in distinct.legal[i]} - tried)
                )
                if not candidates:
                    continue  # every legal move tried: this row samples freely
                logits = scores[i, candidates].float()
                if temperature > 0:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    pick = candidates[int(torch.multinomial(probs, 1, generator=generator))]
                else:
                    pick = candidates[int(logits.argmax())]
                tried.add(pick)
                scores[i] = float("-inf")
                scores[i, pick] = 0.0
            return scores

    return Distinct()


def sampling_processor(generator: Any, record: bool) -> Any:
    """A transformers logits processor that samples each row's next token from the scores it is given, with its own
    `torch.Generator`, and leaves only that token possible: `generate` then runs greedily and never draws from torch's
    global generator, which the training step uses at the same time when games are played ahead in another thread.
    It draws as `generate`'s own sampling does (one `multinomial` over the softmax), so a generator seeded like the
    global one gives the same tokens. With `record`, `logprobs` holds each step's log-probabilities of the drawn
    tokens, as the scores it was given rate them."""
    import torch
    from transformers import LogitsProcessor

    class Sample(LogitsProcessor):
        def __init__(self) -> None:
            self.logprobs: list[Any] = []

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            probs = torch.softmax(scores, dim=-1)
            tokens = torch.multinomial(probs, num_samples=1, generator=generator)
            if record:
                self.logprobs.append(torch.log_softmax(scores.float(), dim=-1).gather(-1, tokens).squeeze(-1))
            picked = torch.full_like(scores, float("-inf"))
            picked.scatter_(-1, tokens, 0.0)
            return picked

    return Sample()


class TransformersBackend:
    """Batched, left-padded `model.generate` with KV cache within each turn.

    Generation stops at the tokenizer's end-of-turn token, or right after the closing move tag when that tag
    is one token, so a well-formed answer never waits for `max_new_tokens`. Per-token log-probabilities are
    computed only with `logprobs=True`: TRL reads them for vLLM importance sampling and the off-policy mask,
    neither of which applies to transformers generation, and collecting scores slows `generate` down.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        stop_texts: Sequence[str] = (),
        logprobs: bool = False,
        move_tag: str = "move",
    ) -> None:
        self.model, self.tokenizer, self.want_logprobs = model, tokenizer, logprobs
        self.stop_ids = stop_token_ids(tokenizer, stop_texts)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.stop_ids[0]
        self.move_tag = move_tag

    def generate(
        self,
        contexts: Sequence[list[int]],
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
        move_temperature: float | None = None,
        distinct: DistinctMoves | None = None,
    ) -> list[tuple[list[int], list[float]]]:
        import torch

        device = next(self.model.parameters()).device
        width = max(len(c) for c in contexts)
        input_ids = torch.full((len(contexts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(contexts), width), dtype=torch.long)
        for i, ctx in enumerate(contexts):
            input_ids[i, width - len(ctx) :] = torch.tensor(ctx)
            attention[i, width - len(ctx) :] = 1
        sample = temperature > 0
        # `generate` itself always decodes greedily (its sampling knobs unset, so transformers does not warn about
        # the model's defaults); sampling is the processors' below, from a generator of this call's own. Games
        # played ahead (`grpo.generate_ahead`) generate in a thread beside the training step, which draws from
        # torch's global generator: neither disturbs the other, and the same seed gives the same tokens.
        kwargs: dict[str, Any] = {"do_sample": False, "top_k": None, "temperature": None, "top_p": None}
        generator = torch.Generator(device=device).manual_seed(seed)
        processors = []
        if distinct is not None:
            if len(distinct.groups) != len(contexts) or len(distinct.legal) != len(contexts):
                raise ArenaError(f"distinct moves need a group and legal moves for each of the {len(contexts)} rows")
            # First, on the raw scores: it draws each move at the move's own temperature and leaves one token,
            # which the move temperature processor below cannot change.
            move_t = move_temperature if move_temperature is not None else temperature
            processors.append(
                distinct_moves_processor(self.tokenizer, self.move_tag, distinct, move_t, width, generator)
            )
        sampler = None
        if sample:
            from transformers import TemperatureLogitsWarper, TopPLogitsWarper

            if move_temperature is not None and move_temperature != temperature:
                processors.append(
                    move_temperature_processor(self.tokenizer, self.move_tag, temperature, move_temperature, width)
                )
            # In the order `generate`'s own sampling applies them.
            if temperature != 1.0:
                processors.append(TemperatureLogitsWarper(temperature))
            if top_p < 1.0:
                processors.append(TopPLogitsWarper(top_p=top_p))
            sampler = sampling_processor(generator, self.want_logprobs)
            processors.append(sampler)
        if processors:
            kwargs["logits_processor"] = processors
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            shared = self._shared_prefill(contexts, width, device)
            if shared:
                kwargs.update(shared)
            out = self.model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention.to(device),
                max_new_tokens=max_new_tokens,
                eos_token_id=self.stop_ids,
                pad_token_id=self.pad_id,
                output_scores=self.want_logprobs,
                return_dict_in_generate=True,
                **kwargs,
            )
        if was_training:
            self.model.train()
        new = out.sequences[:, width:]
        if self.want_logprobs and sampler is not None:  # the scores `generate` kept are the sampler's one-hot ones
            chosen = torch.stack(sampler.logprobs[: new.shape[1]], dim=1)
        elif self.want_logprobs:
            logprobs = torch.stack([torch.log_softmax(s.float(), dim=-1) for s in out.scores], dim=1)
            chosen = logprobs.gather(-1, new.unsqueeze(-1)).squeeze(-1)
        else:
            chosen = torch.zeros(new.shape)
        results = []
        stop = set(self.stop_ids)
        for row, lp in zip(new.tolist(), chosen.tolist(), strict=True):
            n = len(row)
            for j, tok in enumerate(row):
                if tok in stop:
                    n = j + 1
                    break
            results.append((row[:n], [float(x) for x in lp[:n]]))
        return results

    def _shared_prefill(self, contexts: Sequence[list[int]], width: int, device: Any) -> dict[str, Any]:
        """A cache of every context but its last token, computed once per distinct context and copied to its rows.

        The members of a GRPO group read the same prompt, so a turn's batch holds each first prompt several times
        and its prefill (most of a turn's compute for a short answer) is mostly repeated. `generate` then reads
        only the last token of each row. Same tokens as without it (float sums in another order: scores agree to
        about 1e-5). Returns the `generate` keyword for the cache, or nothing when no context repeats, a context is
        one token, or the model or its cache does not take part."""
        import inspect

        import torch

        unique = list(dict.fromkeys(tuple(c) for c in contexts))
        if len(unique) == len(contexts) or min(len(c) for c in contexts) < 2:
            return {}
        params = inspect.signature(self.model.forward).parameters
        key = "cache" if "cache" in params else "past_key_values"  # transformers 5 renamed it
        if key not in params:
            return {}
        ids = torch.full((len(unique), width - 1), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(unique), width - 1), dtype=torch.long)
        for i, ctx in enumerate(unique):
            ids[i, width - len(ctx) :] = torch.tensor(ctx[:-1])
            attention[i, width - len(ctx) :] = 1
        # The positions `generate` gives these tokens: counted from each row's first real token.
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        extra = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        out = self.model(
            input_ids=ids.to(device),
            attention_mask=attention.to(device),
            position_ids=positions.to(device),
            use_cache=True,
            **extra,
        )
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
        if cache is None or not hasattr(cache, "batch_select_indices"):
            return {}
        row = {ctx: i for i, ctx in enumerate(unique)}
        cache.batch_select_indices(torch.tensor([row[tuple(c)] for c in contexts], device=device))
        return {key: cache}


def batch_seed(rngs: Sequence[Any]) -> int:
    """One sampling seed for a batch of games, drawn from each game's own numpy RNG, so the same games give the
    same samples."""
    import zlib

    import numpy as np

    draws = [int(rng.integers(1 << 31)) for rng in rngs]
    return zlib.crc32(np.asarray(draws, dtype=np.int64).tobytes())


class ChatModel:
    """A transformers causal LM that answers chats: its chat template on each chat's messages, generation through
    `TransformersBackend`, answers decoded as text.

    Sampling is at `temperature` and `top_p` only (the model's own sampling defaults, such as a top-k, do not
    apply), `batch_size` chats at a time. It stops at the end of the turn, or right after the closing move tag when
    that is one token: nothing after it can help the answer. Model players and model opponents both answer
    through it.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        batch_size: int = 64,
        move_tag: str = "move",
    ) -> None:
        if temperature < 0 or not 0 < top_p <= 1 or max_new_tokens < 1 or batch_size < 1:
            raise ArenaError(
                f"invalid sampling settings: temperature={temperature} (>= 0), top_p={top_p} (in (0, 1]), "
                f"max_new_tokens={max_new_tokens} (>= 1), batch_size={batch_size} (>= 1)"
            )
        self.model, self.tokenizer = model, tokenizer
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.backend = TransformersBackend(model, tokenizer, stop_texts=[f"</{move_tag}>"], move_tag=move_tag)
        self.temperature, self.top_p = temperature, top_p
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size

    def reply(self, chats: Sequence[list[dict[str, str]]], seed: int) -> list[str]:
        """One answer per chat, in one `generate` call (the caller batches): same chats and seed, same answers."""
        texts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
        contexts = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
        answers = self.backend.generate(
            contexts,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=seed,
        )
        return self.tokenizer.batch_decode([ids for ids, _ in answers], skip_special_tokens=True)
