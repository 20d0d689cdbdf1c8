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
from typing import Any

import numpy as np

from arena.batch import Played, Table, play_batched
from arena.env import EnvConfig, TextGameEnv
from arena.errors import ArenaError
from arena.generation import Backend, DistinctMoves
from arena.outcome import Outcome

#: Positions kept from the policy's latest whole games for `path_starts`; older ones drop out.
PATH_POOL_SIZE = 1024
#: Positions kept from the play-outs the policy lost, for `loss_starts`; older ones drop out.
LOSS_POOL_SIZE = 256


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
    info: dict[str, Any] = field(default_factory=dict)  # the env's info at the game's last step
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @property
    def result(self) -> str:
        return self.info.get("result") or "truncated"

    @property
    def outcome(self) -> Outcome:
        """How the game went (read from its last info; a game cut off at the token budget is truncated)."""
        return Outcome.from_info(self.info)


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
        started = time.perf_counter()
        tables = []
        for i, opts in enumerate(options):
            env = self._env(i)
            _, info = env.reset(seed=int(rng.integers(2**31)), options=dict(opts))
            ep = Episode(options=dict(opts), prompt_ids=self.chat.prompt_ids(info["messages"]))
            tables.append(Table(env, info, data=ep, transcript=ep.transcript))
        stop_ids = set(getattr(backend, "stop_ids", ()))
        generated: dict[int, list[int]] = {}  # each game's answer this round, by id(table)

        def answer(active: list[Table]) -> list[str]:
            t0 = time.perf_counter()
            outs = backend.generate(
                [t.data.prompt_ids + t.data.completion_ids for t in active],
                max_new_tokens=max_new_tokens,
                top_p=top_p,
                seed=int(rng.integers(2**31)),
                **_sampling(temperature, move_temperature),
            )
            stats.generation_s += time.perf_counter() - t0
            texts = []
            for t, (ids, lps) in zip(active, outs, strict=True):
                ep = t.data
                ep.completion_ids += ids
                ep.env_mask += [1] * len(ids)
                ep.logprobs += lps
                stats.model_tokens += len(ids)
                stats.turns += 1
                generated[id(t)] = ids
                texts.append(self.tokenizer.decode(ids, skip_special_tokens=True))
            return texts

        def on_step(t: Table, played: Played) -> bool:
            ep, ids = t.data, generated.pop(id(t))
            too_long = (
                max_sequence_tokens is not None and len(ep.prompt_ids) + len(ep.completion_ids) >= max_sequence_tokens
            )
            if played.over or too_long:
                ep.reward, ep.info = float(played.reward), played.info
                ep.components = dict(played.info.get("reward_components") or {})
                if not played.over:  # cut by the sequence budget: scored like a truncation
                    ep.info = {**played.info, "result": "truncated"}
                    out = ep.outcome
                    comps = self.env_config.rewards.components(
                        "truncated", out.formatted_turns, out.agent_turns, out.invalid_moves
                    )
                    ep.components, ep.reward = comps, float(sum(comps.values()))
                return False
            ended = bool(ids) and ids[-1] in stop_ids
            reply = self.chat.reply_ids(t.info["messages"], played.answer, played.observation, ended_turn=ended)
            ep.completion_ids += reply
            ep.env_mask += [0] * len(reply)
            ep.logprobs += [0.0] * len(reply)
            stats.env_tokens += len(reply)
            return True

        play_batched(tables, answer, on_step)
        stats.env_s = time.perf_counter() - started - stats.generation_s
        stats.opponent_s = sum(env.opponent_seconds for env in self._envs) - opponent_before
        self.stats = stats
        return [t.data for t in tables]

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
        started = time.perf_counter()
        opponent_before = sum(env.opponent_seconds for env in self._envs)
        rewards = self.env_config.rewards
        episodes: list[Episode] = []
        tables: list[Table] = []
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
                env = self._env(g * group_size + m)
                _, info = env.reset(seed=env_seed, options=group_opts)
                ep = Episode(options=group_opts, prompt_ids=self.chat.prompt_ids(info["messages"]))
                episodes.append(ep)
                tables.append(Table(env, info, data=len(tables), transcript=ep.transcript))
                if whole_game[g * group_size + m]:
                    pool.append(([], info["seat"]))

        first = [True] * len(episodes)
        first_invalid = [False] * len(episodes)
        first_format = [False] * len(episodes)
        first_move: list[int | None] = [None] * len(episodes)
        played_from: list[list[list[int]]] = [[] for _ in episodes]  # positions each play-out's policy moved from

        def answer(active: list[Table]) -> list[str]:
            t0 = time.perf_counter()
            contexts = [
                episodes[t.data].prompt_ids if first[t.data] else self.chat.prompt_ids(t.info["messages"])
                for t in active
            ]
            # Every game is at its first answer in the first call and past it in every later one.
            sampling: dict[str, Any] = _sampling(temperature, move_temperature)
            if not first[active[0].data] and continuation_temperature is not None:
                sampling = _sampling(continuation_temperature, None)
            if first[active[0].data] and distinct_moves:
                sampling["distinct"] = DistinctMoves(
                    groups=[t.data // group_size for t in active], legal=[t.info["legal_moves"] for t in active]
                )
            outs = backend.generate(
                contexts, max_new_tokens=max_new_tokens, top_p=top_p, seed=int(rng.integers(2**31)), **sampling
            )
            stats.generation_s += time.perf_counter() - t0
            texts = []
            for t, (ids, lps) in zip(active, outs, strict=True):
                stats.turns += 1
                stats.model_tokens += len(ids)
                if first[t.data]:  # only the first answer is trained on
                    episodes[t.data].completion_ids, episodes[t.data].logprobs = list(ids), list(lps)
                    episodes[t.data].env_mask = [1] * len(ids)
                texts.append(self.tokenizer.decode(ids, skip_special_tokens=True))
            return texts

        def on_step(t: Table, played: Played) -> bool:
            i, info = t.data, played.info
            ep = episodes[i]
            if first[i]:
                first_format[i] = bool(info.get("format_ok"))
                first_invalid[i] = info.get("invalid_kind") is not None
                first_move[i] = None if first_invalid[i] else info.get("agent_move")
                first[i] = False
            else:
                played_from[i].append(list(t.info["moves"]))
            if whole_game[i] and not played.over:
                pool.append((list(info["moves"]), info["seat"]))
            if played.over:
                ep.info = info
                # Scored as a one-turn game: the outcome is the play-out's, format and invalid the answer's.
                ep.components = rewards.components(info["result"], int(first_format[i]), 1, int(first_invalid[i]))
                ep.reward = float(sum(ep.components.values()))
                if loss_starts > 0 and info["result"] == "loss":
                    for moves in played_from[i]:
                        self.loss_positions.append((moves, info["seat"], ep.options["opponent"]))
            return True

        play_batched(tables, answer, on_step)
        if pool_same_move:
            _pool_outcomes(episodes, first_move, group_size)
        stats.env_s = time.perf_counter() - started - stats.generation_s
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
            _, prefix = game.play_random(plies, rng, game.play(start))
            candidate = {**opts, "start": start + prefix}
            try:
                env.reset(seed=0, options=candidate)  # refuses positions that are over, or over after the reply
            except ArenaError:
                continue
            return candidate
        return opts
