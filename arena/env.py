"""The Gymnasium text environment: a language model plays a registered game against a scripted opponent."""

from __future__ import annotations

import string
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium import spaces
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arena.errors import ArenaError, EpisodeOverError, IllegalMoveError
from arena.games.base import DRAW, Game
from arena.games.registry import get_spec
from arena.outcome import Outcome
from arena.rewards import RewardConfig
from arena.text import (
    AnswerFormat,
    ParsedAnswer,
    chat_messages,
    game_over_status,
    parse_answer,
    prompt_text,
    system_prompt,
    turn_prompt,
)

Seat = Literal["first", "second", "random"]
InvalidMovePolicy = Literal["retry", "forfeit", "random"]
RESET_OPTIONS = frozenset({"opponent", "agent_seat", "start", "opponent_seed"})
_SEATS = ("first", "second")
# Every character a prompt can contain: rendering is ASCII, and user text is quoted with ascii().
CHARSET = frozenset(string.printable)


class EnvConfig(BaseModel):
    """Everything about an episode except the game, opponent and seat (which a curriculum sets per episode)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer: AnswerFormat = Field(default_factory=AnswerFormat, description="Tags and strictness of answers.")
    invalid_move: InvalidMovePolicy = Field(
        "forfeit",
        description="On an invalid move: 'retry' (feedback, same board, up to max_retries, then forfeit), "
        "'forfeit' (immediate loss) or 'random' (a random legal move is played for the agent; penalised).",
    )
    max_retries: int = Field(2, ge=0, le=100, description="Retries per turn under invalid_move='retry'.")
    max_agent_turns: int | None = Field(
        None, ge=1, description="Truncate after this many agent turns (retries count); None: never truncate."
    )
    rewards: RewardConfig = Field(default_factory=RewardConfig, description="Reward components.")
    max_prompt_chars: int = Field(8192, ge=256, description="Length bound of the observation space.")
    board_layout: str | None = Field(
        None,
        description="How the board is written, among the game's renderer's layouts (connect four: 'rows', the "
        "default, or 'columns', a line a column from the bottom up); None: the renderer's default. A model is "
        "evaluated and played with the layout it was trained on.",
    )

    @model_validator(mode="after")
    def _retry_needs_retries(self) -> EnvConfig:
        if self.invalid_move == "retry" and self.max_retries == 0:
            raise ValueError(
                "invalid_move='retry' with max_retries=0 is a forfeit: set max_retries >= 1 or use 'forfeit'"
            )
        return self


class TextGameEnv(gymnasium.Env[str, str]):
    """## Description

    A two-player board game as text. The agent (a language model) reads the board, thinks inside
    `<think>...</think>` and answers `<move>N</move>`; a scripted opponent replies inside the same `step()`.
    Any registered game works; `arena/TicTacToe-v0` and `arena/ConnectFour-v0` are built in.

    Turns follow the game's `to_move`, which need not alternate: after the agent's move the opponent plays for
    as long as it is the opponent's turn (several moves in a row where the rules give extra turns or make the
    agent pass), and the agent is prompted again at once where the rules give it another turn. A prompt is
    always for the agent's own side.

    ## Action

    Any string: the model's completion. It is read as `<think>...</think>` followed by `<move>N</move>`
    (tags and strictness set by `answer`); N is a cell 0-8 (tic-tac-toe) or a column 0-6 (connect four).
    No input raises: unreadable or illegal answers are handled by the `invalid_move` policy.

    ## Observation

    The user turn of the prompt. For tic-tac-toe, after X took the centre and the agent plays O:

        0 1 2
        3 X 5
        6 7 8
        You play O. Legal moves: 0 1 2 3 5 6 7 8

    `info["messages"]` holds the chat form: a system prompt with the rules and answer format, then this text.
    `info["legal_moves"]` lists the agent's legal moves; `info["opponent_moves"]` the opponent's moves since the
    agent's last one (empty on an extra turn), `info["opponent_move"]` the last of them (None if none).

    ## Rewards

    Paid on the episode's last step (0 before), from `rewards` (defaults shown):

        | component | value                                                     |
        |-----------|-----------------------------------------------------------|
        | outcome   | win 1.0, draw 0.5, loss 0.0 (a forfeit is a loss)         |
        | format    | 0.2 x share of agent turns that were well formatted       |
        | invalid   | -0.1 once if any move was unparseable or illegal          |

    `info["reward_components"]` reports each component.

    ## Starting State

    The empty board, or the position after `options["start"]` moves; if the opponent moves first, it has
    already moved (every move up to the agent's first turn).

    ## Episode End

    Terminated when the game ends (win, loss, draw) or the agent forfeits. Truncated after
    `max_agent_turns` agent turns, if set.

    ## Arguments

    `game` (registered name), `opponent` (tier name such as "random", "noisy-0.3", "depth-2", "perfect", or a
    spec dict), `agent_seat` ("first", "second", "random"), `config` (an `EnvConfig` or dict) and any
    `EnvConfig` field as a keyword; `opponent_cache`, a dict that several envs may share so opponents (scripted
    ones' search caches, a model) are built once. `step` also comes in halves (`begin_step` and `end_step`),
    between which `play_opponents` has the opponent reply: a loop over many envs has an opponent they share
    choose for all of them in one call (`arena.batch.play_batched`).
    `reset(options=...)` may override `opponent`, `agent_seat`, `start` (moves to pre-play) and `opponent_seed`.

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 1}

    def __init__(
        self,
        game: str = "tictactoe",
        opponent: str | dict[str, Any] = "random",
        agent_seat: Seat = "random",
        config: EnvConfig | dict[str, Any] | None = None,
        render_mode: str | None = None,
        game_kwargs: dict[str, Any] | None = None,
        opponent_cache: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        from opponents import parse_opponent

        self.spec_game = get_spec(game)
        self.game = self.spec_game.game(**(game_kwargs or {}))
        self.config = make_config(config, overrides)
        self.renderer = self.spec_game.renderer(self.game, self.config.board_layout)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ArenaError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.default_opponent = parse_opponent(opponent)
        self.default_seat = _check_seat(agent_seat)
        # Built opponents by tier, so search caches survive resets; envs may share one dict (a rollout pool).
        self._opponents: dict[str, Any] = {} if opponent_cache is None else opponent_cache
        self.observation_space = spaces.Text(max_length=self.config.max_prompt_chars, min_length=1, charset=CHARSET)
        self.action_space = spaces.Text(max_length=self.config.max_prompt_chars, min_length=0, charset=CHARSET)
        self.system_prompt = system_prompt(self.renderer, self.config.answer)
        self._state: Any = None
        self._done = True
        self._turn: _Turn | None = None  # the agent turn between begin_step and end_step
        self.opponent_seconds = 0.0  # time spent choosing opponent moves, over the env's life (for profiling)

    # -- episode setup -------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        # The opponent's moves before the agent's first turn are chosen game by game (`choose`): a start depends on
        # the game's own seeds alone, so envs reset alike start alike (a rollout group answers one position).
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - RESET_OPTIONS
        if unknown:
            raise ArenaError(f"unknown reset option(s) {sorted(unknown)}; allowed: {sorted(RESET_OPTIONS)}")
        self.opponent = self._opponent(options.get("opponent") or self.default_opponent)
        seat = _check_seat(options.get("agent_seat") or self.default_seat)
        self.seat = int(self.np_random.integers(2)) if seat == "random" else _SEATS.index(seat)
        opponent_seed = options.get("opponent_seed")
        if opponent_seed is None:
            opponent_seed = int(self.np_random.integers(2**63 - 1))
        self.opponent_seed = int(opponent_seed)
        self.opponent_rng = np.random.default_rng(self.opponent_seed)

        start = list(options.get("start") or [])
        try:
            self._state = self.game.play(start)
        except IllegalMoveError as exc:
            raise ArenaError(f"start position {start} is not playable: {exc}") from exc
        if self.game.is_over(self._state):
            raise ArenaError(f"start position {start} already ends the game; give one with moves left")
        self.moves: list[int] = [int(m) for m in start]
        self.agent_turns = self.formatted_turns = 0
        self.invalid_reasons: list[dict[str, Any]] = []
        self._retries = 0
        self._done = False
        self.forfeit = False
        self.result: str | None = None
        self._turn = None
        self._opponent_moves: list[int] = []  # the opponent's moves since the agent's last one
        self.play_opponent()
        if self.game.is_over(self._state):
            raise ArenaError(
                f"start position {start} lets the opponent end the game before the agent moves; "
                "give a start where the agent gets a turn"
            )
        prompt = self._prompt()
        return prompt, self._info(prompt, opponent_moves=list(self._opponent_moves))

    def _opponent(self, value: Any) -> Any:
        from opponents import make_opponent, parse_opponent

        return make_opponent(parse_opponent(value), self.game, cache=self._opponents)

    # -- one agent turn ------------------------------------------------------------------------------------

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self.begin_step(action)
        self.play_opponent()
        return self.end_step()

    def begin_step(self, action: str) -> None:
        """The first half of `step`: read the agent's answer and play it (or apply the invalid-move policy). The
        opponent's reply is still to come: `opponent_to_move()` says whether it is the opponent's turn."""
        if self._turn is not None:
            raise ArenaError("a step is under way: call end_step() first")
        if self._done:
            raise EpisodeOverError("step() called after the episode ended; call reset() to start a new one")
        text = action if isinstance(action, str) else _as_text(action)
        self.agent_turns += 1
        parsed = parse_answer(text, self.config.answer)
        self.formatted_turns += parsed.format_ok

        move, kind, reason, next_state = play_answer(self.game, self._state, parsed)
        turn = _Turn(parsed, kind, reason)
        if move is None:
            self.invalid_reasons.append({"turn": self.agent_turns, "kind": kind, "reason": reason})
            policy = self.config.invalid_move
            if policy == "retry" and self._retries < self.config.max_retries:
                self._retries += 1
                turn.feedback = f"Your answer was not accepted ({reason}). Try again."
            elif policy == "random":
                legal = self.game.legal_moves(self._state)
                turn.agent_move = legal[int(self.np_random.integers(len(legal)))]
                next_state = self.game.apply(self._state, turn.agent_move)
            else:
                turn.forfeit = True
        else:
            turn.agent_move = move
        if turn.agent_move is not None:
            self._retries = 0
            self._state = next_state
            self.moves.append(int(turn.agent_move))
        self._turn = turn
        self._opponent_moves = []

    def opponent_to_move(self) -> bool:
        """Whether it is the opponent's turn in the current position: after the agent's move, until the rules give
        the agent its turn or the game ends (never after a retry or a forfeit, which leave the agent to move)."""
        if self.game.is_over(self._state):
            return False
        if not self.game.legal_moves(self._state):
            raise ArenaError(
                f"{self.game.name}: the position after moves {self.moves} is not over but has no legal moves; "
                "a player who cannot move must have a pass move or be skipped by to_move (see Game)"
            )
        return self.game.to_move(self._state) != self.seat

    def play_opponent(self) -> None:
        """The opponent moves for as long as it is its turn (none, one, or several moves in a row): `play_opponents`
        for this one game, written out for the speed of `step`."""
        while self.opponent_to_move():
            started = time.perf_counter()
            move = self.opponent.choose(self._state, self.opponent_rng)
            self.play_opponent_move(move, time.perf_counter() - started)

    def play_opponent_move(self, move: int, seconds: float = 0.0) -> None:
        """Play the opponent's `move` (chosen by `self.opponent` with `self.opponent_rng`, in `seconds`)."""
        self.opponent_seconds += seconds
        self._state = self.game.apply(self._state, int(move))
        self.moves.append(int(move))
        self._opponent_moves.append(int(move))

    def end_step(self) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """The second half of `step`, once the opponent has replied: what `step` returns."""
        turn, self._turn = self._turn, None
        if turn is None:
            raise ArenaError("end_step() called without begin_step()")
        terminated = turn.forfeit or self.game.is_over(self._state)
        truncated = (
            not terminated
            and self.config.max_agent_turns is not None
            and self.agent_turns >= self.config.max_agent_turns
        )
        reward = 0.0
        components = None
        if terminated or truncated:
            self._done = True
            self.forfeit = turn.forfeit
            self.result = "loss" if turn.forfeit else "truncated" if truncated else self._result()
            components = self.config.rewards.components(
                self.result, self.formatted_turns, self.agent_turns, len(self.invalid_reasons)
            )
            reward = float(sum(components.values()))
        prompt = self._prompt(turn.feedback)
        info = self._info(
            prompt,
            agent_move=turn.agent_move,
            opponent_moves=list(self._opponent_moves),
            parsed=turn.parsed,
            kind=turn.kind,
            reason=turn.reason,
        )
        info["forfeit"] = turn.forfeit
        if components is not None:
            info["reward_components"] = components
        if self.render_mode == "human":
            self.render()
        return prompt, reward, terminated, truncated, info

    def _result(self) -> str:
        winner = self.game.winner(self._state)
        return "draw" if winner == DRAW else "win" if winner == self.seat else "loss"

    # -- text --------------------------------------------------------------------------------------------

    def _prompt(self, feedback: str | None = None) -> str:
        if self.game.is_over(self._state) or self._done:
            return prompt_text(self.renderer.render(self._state), game_over_status(self.result))
        text = self.turn_prompt(self._state)
        return f"{feedback}\n{text}" if feedback else text

    def turn_prompt(self, state: Any) -> str:
        """The user turn shown to the player to move in `state` (any position of this env's game)."""
        return turn_prompt(self.game, self.renderer, state)

    def messages_for(self, state: Any) -> list[dict[str, str]]:
        """The chat messages (system, user) shown to the player to move in `state`."""
        return chat_messages(self.game, self.renderer, self.config.answer, state)

    def _info(self, prompt: str, **turn: Any) -> dict[str, Any]:
        parsed = turn.pop("parsed", None)
        info = {
            "messages": [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": prompt},
            ],
            "legal_moves": list(self.game.legal_moves(self._state)) if not self._done else [],
            "moves": list(self.moves),
            "seat": _SEATS[self.seat],
            "opponent": self.opponent.name,
            "opponent_seed": self.opponent_seed,
            "agent_turns": self.agent_turns,
            "format_errors": self.format_errors,
            "unparseable_moves": self.unparseable_moves,
            "illegal_moves": self.illegal_moves,
            "invalid_moves": len(self.invalid_reasons),
            "invalid_reasons": list(self.invalid_reasons),
            "result": self.result,
        }
        if parsed is not None:
            info.update(
                format_ok=parsed.format_ok,
                format_error=parsed.format_error,
                invalid_kind=turn.get("kind"),
                invalid_reason=turn.get("reason"),
                think=parsed.think,
            )
        if "agent_move" in turn:
            info["agent_move"] = turn["agent_move"]
        if "opponent_moves" in turn:
            info["opponent_moves"] = turn["opponent_moves"]
            info["opponent_move"] = turn["opponent_moves"][-1] if turn["opponent_moves"] else None
        return info

    def render(self) -> str | None:
        if self._state is None:
            return None
        text = self.renderer.render(self._state)
        if self.render_mode == "human":
            print(text)
            return None
        return text if self.render_mode == "ansi" else None

    @property
    def state(self) -> Any:
        """The current game state (rules object: `self.game`)."""
        return self._state

    # The agent's answer counts of the game so far, derived from what each turn recorded.
    @property
    def format_errors(self) -> int:
        """Answers that broke the strict answer shape."""
        return self.agent_turns - self.formatted_turns

    @property
    def unparseable_moves(self) -> int:
        """Answers from which no move number could be read."""
        return sum(r["kind"] == "unparseable" for r in self.invalid_reasons) if self.invalid_reasons else 0

    @property
    def illegal_moves(self) -> int:
        """Answers whose move the rules forbid where it was played."""
        return sum(r["kind"] == "illegal" for r in self.invalid_reasons) if self.invalid_reasons else 0

    @property
    def outcome(self) -> Outcome | None:
        """How the game went for the agent, once it has ended (None while it goes on)."""
        if not self._done or self.result is None:
            return None
        return Outcome(
            result=self.result,
            seat=_SEATS[self.seat],
            opponent=self.opponent.name,
            moves=tuple(self.moves),
            agent_turns=self.agent_turns,
            format_errors=self.format_errors,
            unparseable_moves=self.unparseable_moves,
            illegal_moves=self.illegal_moves,
            invalid_moves=len(self.invalid_reasons),
            forfeit=self.forfeit,
        )


@dataclass(slots=True)
class _Turn:
    """An agent turn between `begin_step` and `end_step`: its answer read, what was played for the agent."""

    parsed: ParsedAnswer
    kind: str | None
    reason: str | None
    agent_move: int | None = None
    feedback: str | None = None
    forfeit: bool = False


def play_opponents(envs: Sequence[TextGameEnv]) -> None:
    """Let each env's opponent reply until the agent is to move again or the game ends (between `begin_step` and
    `end_step`), as `TextGameEnv.play_opponent` does for one. Envs that share an opponent (one built
    opponent for their tier, such as a model) have it choose for all of them in one `choose_many` call a round;
    each game draws from its own `opponent_rng`, so a scripted opponent plays the same moves as one game at a time."""
    while waiting := [env for env in envs if env.opponent_to_move()]:
        groups: dict[int, list[TextGameEnv]] = {}
        for env in waiting:
            groups.setdefault(id(env.opponent), []).append(env)
        for group in groups.values():
            started = time.perf_counter()
            moves = group[0].opponent.choose_many([env.state for env in group], [env.opponent_rng for env in group])
            seconds = (time.perf_counter() - started) / len(group)
            for env, move in zip(group, moves, strict=True):
                env.play_opponent_move(move, seconds)


def play_answer(game: Game[Any], state: Any, parsed: ParsedAnswer) -> tuple[int | None, str | None, str | None, Any]:
    """What a parsed answer plays in `state`: (move, None, None, the next state) for a legal move, else (None, kind,
    reason, None) with kind 'format' or 'unparseable' (no move read) or 'illegal' (the rules refuse it)."""
    if parsed.move is None:
        return None, parsed.error_kind, parsed.error, None
    try:
        return parsed.move, None, None, game.apply(state, parsed.move)
    except IllegalMoveError as exc:
        return None, "illegal", str(exc), None


def make_config(config: EnvConfig | dict[str, Any] | None, overrides: dict[str, Any]) -> EnvConfig:
    """An env's config from a config object or dict plus keyword overrides, with a clear error if invalid."""
    base = config.model_dump() if isinstance(config, EnvConfig) else dict(config or {})
    try:
        return EnvConfig.model_validate({**base, **overrides})
    except ValidationError as exc:
        raise ArenaError(f"invalid environment config: {exc}") from exc


def turn_record(prompt: str, answer: str, info: dict[str, Any]) -> dict[str, Any]:
    """One agent turn of a transcript (training's and evaluation's): what the player saw, what it said, and what
    was played; `info` is what `step` returned for that answer."""
    return {
        "prompt": prompt,
        "completion": answer,
        "agent_move": info.get("agent_move"),
        "opponent_move": info.get("opponent_move"),
        "opponent_moves": info.get("opponent_moves"),  # all of them, when the opponent moved several times
        "invalid": info.get("invalid_reason"),
    }


def _check_seat(seat: Any) -> Seat:
    if seat not in ("first", "second", "random"):
        raise ArenaError(f"agent_seat must be 'first', 'second' or 'random', got {seat!r}")
    return seat


def _as_text(action: Any) -> str:
    if isinstance(action, bytes | bytearray):
        return bytes(action).decode("utf-8", errors="replace")
    return str(action)
