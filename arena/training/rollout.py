"""Whole-game rollouts for GRPO: a model plays batches of games as multi-turn chats.

Each game becomes one token sequence: the first prompt, then the model's answer, the env's reply (board
after the opponent's move, as the chat template renders the next user turn), the next answer, and so on.
`env_mask` marks the model's tokens 1 and the env's 0, so only the model's own tokens carry loss.
All games of a batch advance together, one batched generation call per turn.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from arena.env import EnvConfig, TextGameEnv, turn_record
from arena.errors import ArenaError
from arena.evaluation.players import stop_token_ids

#: Positions kept from the policy's latest whole games for `path_starts`; older ones drop out.
PATH_POOL_SIZE = 1024
#: Positions kept from the play-outs the policy lost, for `loss_starts`; older ones drop out.
LOSS_POOL_SIZE = 256


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


@dataclass
class Episode:
    """One finished game as GRPO sees it, plus what logs and the curriculum need."""

    options: dict[str, Any]
    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    env_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    reward: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @property
    def result(self) -> str:
        return self.info.get("result") or "truncated"


class ChatFormatter:
    """Token ids of a game's first prompt and of each env reply, as the tokenizer's chat template renders them."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def render(self, messages: list[dict[str, str]], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        return self.encode(self.render(messages, True))

    def reply_ids(self, messages: list[dict[str, str]], answer: str, observation: str, ended_turn: bool) -> list[int]:
        """What follows the model's answer: the end of its turn (unless it generated it), the next user turn
        and the assistant header."""
        # Render the turn with a placeholder for the answer and keep what follows it: searching the rendering for
        # the answer itself can land in the next observation (an answer "2 3" in "Legal moves: 0 2 3 6") and
        # finds nothing for an empty answer.
        placeholder = "\x00arena-answer\x00"
        history = [*messages, {"role": "assistant", "content": placeholder}, {"role": "user", "content": observation}]
        full = self.render(history, True)
        if full.count(placeholder) == 1:
            suffix = full[full.index(placeholder) + len(placeholder) :]
        else:  # the template rewrote the answer (some strip reasoning from past turns): close it generically
            suffix = (self.tokenizer.eos_token or "") + "\n" + self.render([history[-1]], True)
        if ended_turn and self.tokenizer.eos_token and suffix.startswith(self.tokenizer.eos_token):
            suffix = suffix[len(self.tokenizer.eos_token) :]
        elif ended_turn and suffix.startswith("<|im_end|>"):
            suffix = suffix[len("<|im_end|>") :]
        return self.encode(suffix)


def _sampling(temperature: float, move_temperature: float | None) -> dict[str, float]:
    """Backend sampling arguments; `move_temperature` only when set, so simple backends need not know it."""
    return {"temperature": temperature, **({} if move_temperature is None else {"move_temperature": move_temperature})}


def _pool_outcomes(episodes: Sequence[Episode], moves: Sequence[int | None], group_size: int) -> None:
    """Within each group, give every member that played a legal move the mean outcome of the members that
    played the same move (format and invalid components stay the member's own)."""
    for start in range(0, len(episodes), group_size):
        by_move: dict[int, list[Episode]] = {}
        for ep, move in zip(episodes[start : start + group_size], moves[start : start + group_size], strict=True):
            if move is not None:
                by_move.setdefault(int(move), []).append(ep)
        for members in by_move.values():
            mean = float(np.mean([ep.components["outcome"] for ep in members]))
            for ep in members:
                ep.components["outcome"] = mean
                ep.reward = float(sum(ep.components.values()))


@dataclass
class RolloutStats:
    """Wall time of the last batch, split by phase, and its token counts."""

    generation_s: float = 0.0
    env_s: float = 0.0  # env work, opponents' moves included
    opponent_s: float = 0.0
    games: int = 0
    model_tokens: int = 0
    env_tokens: int = 0
    turns: int = 0


class GameRunner:
    """Plays batches of games for one game and env config, keeping a pool of envs that share opponents."""

    def __init__(self, game: str, env_config: EnvConfig, tokenizer: Any, game_kwargs: dict[str, Any] | None = None):
        self.game, self.env_config, self.game_kwargs = game, env_config, dict(game_kwargs or {})
        self.chat = ChatFormatter(tokenizer)
        self.tokenizer = tokenizer
        self._opponents: dict[str, Any] = {}
        self._envs: list[TextGameEnv] = []
        self.stats = RolloutStats()
        # Turn rollouts: where the agent was to move in the policy's latest whole games (moves, seat); the
        # start of a game is ([], seat).
        self.path_positions: deque[tuple[list[int], str]] = deque(maxlen=PATH_POOL_SIZE)
        # Turn rollouts: where the policy was to move in the play-outs it lost (moves, seat, the opponent's spec).
        self.loss_positions: deque[tuple[list[int], str, Any]] = deque(maxlen=LOSS_POOL_SIZE)

    def _env(self, i: int) -> TextGameEnv:
        while len(self._envs) <= i:
            self._envs.append(
                TextGameEnv(
                    self.game, config=self.env_config, game_kwargs=self.game_kwargs, opponent_cache=self._opponents
                )
            )
        return self._envs[i]

    def play(
        self,
        backend: Backend,
        options: Sequence[dict[str, Any]],
        *,
        seed: int,
        max_new_tokens: int,
        temperature: float,
        top_p: float = 1.0,
        max_sequence_tokens: int | None = None,
        move_temperature: float | None = None,
    ) -> list[Episode]:
        """Play one game per entry of `options` (env reset options) to the end; returns them in order."""
        stats = RolloutStats(games=len(options))
        rng = np.random.default_rng(seed)
        opponent_before = sum(env.opponent_seconds for env in self._envs)
        t0 = time.perf_counter()
        envs, episodes, messages = [], [], []
        for i, opts in enumerate(options):
            env = self._env(i)
            _, info = env.reset(seed=int(rng.integers(2**31)), options=dict(opts))
            envs.append(env)
            messages.append(info["messages"])
            episodes.append(Episode(options=dict(opts), prompt_ids=self.chat.prompt_ids(info["messages"])))
        stats.env_s += time.perf_counter() - t0
        active = list(range(len(options)))
        while active:
            t0 = time.perf_counter()
            contexts = [episodes[i].prompt_ids + episodes[i].completion_ids for i in active]
            outs = backend.generate(
                contexts,
                max_new_tokens=max_new_tokens,
                top_p=top_p,
                seed=int(rng.integers(2**31)),
                **_sampling(temperature, move_temperature),
            )
            t1 = time.perf_counter()
            stats.generation_s += t1 - t0
            still = []
            for i, (ids, lps) in zip(active, outs, strict=True):
                ep = episodes[i]
                ep.completion_ids += ids
                ep.env_mask += [1] * len(ids)
                ep.logprobs += lps
                stats.model_tokens += len(ids)
                stats.turns += 1
                answer = self.tokenizer.decode(ids, skip_special_tokens=True)
                obs, reward, terminated, truncated, info = envs[i].step(answer)
                ep.transcript.append(turn_record(messages[i][-1]["content"], answer, info))
                too_long = (
                    max_sequence_tokens is not None
                    and len(ep.prompt_ids) + len(ep.completion_ids) >= max_sequence_tokens
                )
                if terminated or truncated or too_long:
                    ep.reward, ep.info = float(reward), info
                    ep.components = dict(info.get("reward_components") or {})
                    if not (terminated or truncated):  # cut by the sequence budget: scored like a truncation
                        comps = self.env_config.rewards.components(
                            "truncated",
                            info["agent_turns"] - info["format_errors"],
                            info["agent_turns"],
                            info["invalid_moves"],
                        )
                        ep.components, ep.reward = comps, float(sum(comps.values()))
                        ep.info = {**info, "result": "truncated"}
                    continue
                ended = bool(ids) and ids[-1] in getattr(backend, "stop_ids", ())
                reply = self.chat.reply_ids(messages[i], answer, obs, ended_turn=ended)
                ep.completion_ids += reply
                ep.env_mask += [0] * len(reply)
                ep.logprobs += [0.0] * len(reply)
                stats.env_tokens += len(reply)
                messages[i] = info["messages"]
                still.append(i)
            stats.env_s += time.perf_counter() - t1
            active = still
        stats.opponent_s = sum(env.opponent_seconds for env in self._envs) - opponent_before
        self.stats = stats
        return episodes

    def play_decisions(
        self,
        backend: Backend,
        options: Sequence[dict[str, Any]],
        group_size: int,
        *,
        seed: int,
        max_new_tokens: int,
        temperature: float,
        top_p: float = 1.0,
        max_prefix_plies: int | None = None,
        move_temperature: float | None = None,
        continuation_temperature: float | None = None,
        pool_same_move: bool = False,
        distinct_moves: bool = False,
        path_starts: float = 0.0,
        loss_starts: float = 0.0,
    ) -> list[Episode]:
        """Turn-level GRPO: every group answers ONE position `group_size` times, each answer is played out.

        For each entry of `options` (one per group) a position is drawn: the empty board plus a random number
        of random legal plies, or the episode's start as it is when the curriculum chose one (an opening, a
        puzzle), then the opponent's reply if it is its turn. Every member of the group
        sees that same prompt (the current board only), answers it, and the game is then played to the end by
        the same policy against the group's opponent and seed. A member's reward is its game's outcome, plus the
        format bonus and invalid-move penalty of its own answer; only that answer is trained on.

        The answers trained on are sampled at `temperature` (and `move_temperature` inside the move tag); the
        play-out turns at `continuation_temperature` (None: the same sampling; 0: greedy). With `pool_same_move`
        a member's outcome is the mean outcome of the group's members that played the same legal move: the
        prompt holds the current position only, so an answer's expected outcome depends on its move alone, and
        the mean is the same estimate with less play-out noise. With `distinct_moves` the members of a group try
        distinct legal moves, drawn from the policy without replacement (`DistinctMoves`), so a group compares
        moves even when the policy has settled on one; the update then weighs moves by how they played out rather
        than by how often the policy picks them, which is no longer the plain policy gradient.

        With `path_starts` > 0, that share of the groups whose curriculum spec sets no start answer a position
        on the policy's own path instead of a random one: drawn from the positions where the agent was to move
        in the policy's latest whole games (`path_positions`: the game's start, and every position the
        play-outs of a group that answered the start reached), each game weighing once per position, so the
        start is asked about as often as any later turn; the agent takes the seat it had there, whatever the
        spec's seat (its opponent, opponent seed and the rest are the spec's). A group drawn to the start plays
        whole games and adds them to that pool; a group asked a later position does not (its games began
        elsewhere). These are the positions the policy's games lead to against the curriculum's opponents, where
        evaluation plays, rather than the whole game tree's.

        With `loss_starts` > 0, that share of those groups answers instead a position from a play-out the policy
        lost (`loss_positions`: every position where the play-out's policy was to move, after the group's own
        answer, in games that ended in a loss), against the opponent that beat it, from the seat it had; each
        loss adds its positions once, so a position lost often is asked often. Only the outcomes of the games
        pick these positions: the policy is asked again where its own play went wrong. While that pool is empty
        such a group answers a random position.
        """
        stats = RolloutStats(games=len(options) * group_size)
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        opponent_before = sum(env.opponent_seconds for env in self._envs)
        rewards = self.env_config.rewards
        episodes: list[Episode] = []
        infos: list[dict[str, Any]] = []
        pool, drawn_from = self.path_positions, list(self.path_positions)  # this call adds to the next one's
        lost_from = list(self.loss_positions)
        whole_game = [False] * (len(options) * group_size)  # members whose play-out is the policy's whole game
        for g, opts in enumerate(options):
            draw = rng.random() if (path_starts > 0 or loss_starts > 0) and not opts.get("start") else 1.0
            if draw < loss_starts and lost_from:
                moves, seat, opponent = lost_from[int(rng.integers(len(lost_from)))]
                group_opts = {**opts, "start": list(moves), "agent_seat": seat, "opponent": opponent}
            elif loss_starts <= draw < loss_starts + path_starts:
                # On the policy's path: a position its whole games reached, or the game's start itself.
                moves, seat = drawn_from[int(rng.integers(len(drawn_from)))] if drawn_from else ([], None)
                group_opts = {**opts, "start": list(moves), **({"agent_seat": seat} if seat else {})}
                if not moves:
                    whole_game[g * group_size : (g + 1) * group_size] = [True] * group_size
            else:
                group_opts = self._decision_point(g * group_size, dict(opts), rng, max_prefix_plies)
            env_seed = int(rng.integers(2**31))
            for m in range(group_size):
                _, info = self._env(g * group_size + m).reset(seed=env_seed, options=group_opts)
                infos.append(info)
                episodes.append(Episode(options=group_opts, prompt_ids=self.chat.prompt_ids(info["messages"])))
                if whole_game[g * group_size + m]:
                    pool.append(([], info["seat"]))
        stats.env_s += time.perf_counter() - t0

        envs = self._envs[: len(episodes)]
        first = [True] * len(episodes)
        first_invalid = [False] * len(episodes)
        first_format = [False] * len(episodes)
        first_move: list[int | None] = [None] * len(episodes)
        played: list[list[list[int]]] = [[] for _ in episodes]  # positions each play-out's policy moved from
        active = list(range(len(episodes)))
        while active:
            t0 = time.perf_counter()
            contexts = [
                episodes[i].prompt_ids if first[i] else self.chat.prompt_ids(infos[i]["messages"]) for i in active
            ]
            # Every game is at its first answer in the first call and past it in every later one.
            sampling: dict[str, Any] = _sampling(temperature, move_temperature)
            if not first[active[0]] and continuation_temperature is not None:
                sampling = _sampling(continuation_temperature, None)
            if first[active[0]] and distinct_moves:
                sampling["distinct"] = DistinctMoves(
                    groups=[i // group_size for i in active], legal=[infos[i]["legal_moves"] for i in active]
                )
            outs = backend.generate(
                contexts, max_new_tokens=max_new_tokens, top_p=top_p, seed=int(rng.integers(2**31)), **sampling
            )
            t1 = time.perf_counter()
            stats.generation_s += t1 - t0
            still = []
            for i, (ids, lps) in zip(active, outs, strict=True):
                ep = episodes[i]
                answer = self.tokenizer.decode(ids, skip_special_tokens=True)
                prompt = infos[i]["messages"][-1]["content"]
                obs, reward, terminated, truncated, info = envs[i].step(answer)
                stats.turns += 1
                stats.model_tokens += len(ids)
                if first[i]:
                    ep.completion_ids, ep.env_mask, ep.logprobs = list(ids), [1] * len(ids), list(lps)
                    first_format[i] = bool(info.get("format_ok"))
                    first_invalid[i] = info.get("invalid_kind") is not None
                    first_move[i] = None if first_invalid[i] else info.get("agent_move")
                    first[i] = False
                else:
                    played[i].append(list(infos[i]["moves"]))
                ep.transcript.append(turn_record(prompt, answer, info))
                infos[i] = info
                if whole_game[i] and not (terminated or truncated):
                    pool.append((list(info["moves"]), info["seat"]))
                if terminated or truncated:
                    ep.info = info
                    outcome = rewards.components(info["result"], 0, 1, 0)["outcome"]
                    ep.components = {
                        "outcome": outcome,
                        "format": rewards.format_weight * first_format[i],
                        "invalid": rewards.invalid_penalty if first_invalid[i] else 0.0,
                    }
                    ep.reward = float(sum(ep.components.values()))
                    if loss_starts > 0 and info["result"] == "loss":
                        for moves in played[i]:
                            self.loss_positions.append((moves, info["seat"], ep.options["opponent"]))
                else:
                    still.append(i)
            stats.env_s += time.perf_counter() - t1
            active = still
        if pool_same_move:
            _pool_outcomes(episodes, first_move, group_size)
        stats.opponent_s = sum(env.opponent_seconds for env in self._envs) - opponent_before
        self.stats = stats
        return episodes

    def _decision_point(
        self, env_index: int, opts: dict[str, Any], rng: np.random.Generator, max_prefix_plies: int | None
    ) -> dict[str, Any]:
        """`opts` with the empty start extended by random legal plies, leaving a position where the agent moves.

        A start the curriculum chose (an opening, a puzzle) is kept as it is: random plies would turn a win-in-1
        into some other position, so the puzzles a user asked for would mostly never be asked."""
        env = self._env(env_index)
        game = env.game
        if (opts.get("agent_seat") or env.default_seat) == "random":
            # Drawn once for the group: each member's reset would draw its own, and the check below would
            # vouch for a seat the group may not get (the opponent could end the game before the agent moves).
            opts = {**opts, "agent_seat": ("first", "second")[int(rng.integers(2))]}
        start = list(opts.get("start") or [])
        longest = game.info.max_game_length - 1 if max_prefix_plies is None else max_prefix_plies
        limit = 0 if start else longest
        for _ in range(20 if limit else 1):  # a start asked as given is the same on every try
            plies = int(rng.integers(0, max(0, limit) + 1))
            state, prefix = game.play(start), []
            for _ in range(plies):
                if game.is_over(state):
                    break
                move = game.legal_moves(state)[int(rng.integers(len(game.legal_moves(state))))]
                state = game.apply(state, move)
                prefix.append(int(move))
            candidate = {**opts, "start": start + prefix}
            try:
                env.reset(seed=0, options=candidate)  # refuses positions that are over, or over after the reply
            except ArenaError:
                continue
            return candidate
        return opts
