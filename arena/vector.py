"""Many games of one registered game stepped together: a Gymnasium vector env for high-volume text rollouts.

`TextGameVectorEnv` keeps the prompts, answer parsing, rewards and episode ends of `TextGameEnv`, and moves
`num_envs` games per `step()` with array operations. Positions live in a `Positions` batch: numpy boards for the
built-in games (the fast path), the game's own immutable states for any other registered game.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from arena.env import CHARSET, EnvConfig, Seat, _as_text, _check_seat, make_config, play_answer
from arena.errors import ArenaError
from arena.games.base import DRAW, Game
from arena.games.connect_four import ConnectFour, ConnectFourRenderer, ConnectFourState
from arena.games.registry import get_spec
from arena.games.tictactoe import TicTacToe, TicTacToeRenderer, TicTacToeState
from arena.text import (
    Renderer,
    game_over_status,
    parse_answers,
    prompt_text,
    system_prompt,
    turn_prompt,
    turn_status,
)

ONGOING = -2  # `Positions.result` of a game still being played; otherwise the winner (0 or 1) or DRAW
EMPTY = -1  # a free cell on a numpy board
NO_MOVE = -1  # in per-step move arrays: nobody moved
SEATS = np.array(["first", "second"], dtype=object)
RESULTS = np.array(["win", "draw", "loss", "truncated"], dtype=object)  # a finished game, from the agent's side
WIN_CODE, DRAW_CODE, LOSS_CODE, TRUNCATED_CODE = range(4)


# -- positions: the rules, many games at a time ------------------------------------------------------------------


class Positions(ABC):
    """`num` positions of one game, moved together. The vector env reads and moves games only through this.

    `player[i]` is the side to move in game i and `result[i]` is ONGOING, DRAW or the winner; both are kept
    current by `restart` and `play`.
    """

    def __init__(self, game: Game[Any], renderer: Renderer, num: int) -> None:
        self.game, self.renderer, self.num = game, renderer, num
        self.num_moves = game.info.num_moves
        self.player = np.zeros(num, dtype=np.int8)
        self.result = np.full(num, ONGOING, dtype=np.int8)

    @abstractmethod
    def restart(self, idx: np.ndarray) -> None:
        """Put games `idx` at the initial position."""

    @abstractmethod
    def legal_mask(self, idx: np.ndarray) -> np.ndarray:
        """Bool array (len(idx), num_moves): which moves are legal in each game (none once it is over)."""

    @abstractmethod
    def play(self, idx: np.ndarray, moves: np.ndarray) -> None:
        """Play `moves[j]` in game `idx[j]`; every move must be legal (the caller checks with `legal_mask`)."""

    @abstractmethod
    def state(self, i: int) -> Any:
        """Game i as a state of the rules object (for scripted opponents and tests)."""

    def board_texts(self, idx: np.ndarray) -> list[str]:
        """The rendered board of each game in `idx`."""
        return [self.renderer.render(self.state(i)) for i in idx.tolist()]

    def prompts(self, idx: np.ndarray, legal: np.ndarray | None = None) -> list[str]:
        """The user turn for the side to move in each (unfinished) game of `idx`, as `TextGameEnv` shows it.

        `legal`, if given, is `legal_mask(idx)` already computed by the caller.
        """
        return [turn_prompt(self.game, self.renderer, self.state(i)) for i in idx.tolist()]


class StatePositions(Positions):
    """Any game through the `Game` protocol: one immutable state per game, moved one at a time."""

    def __init__(self, game: Game[Any], renderer: Renderer, num: int) -> None:
        super().__init__(game, renderer, num)
        self.states: list[Any] = [game.initial_state()] * num

    def restart(self, idx: np.ndarray) -> None:
        initial = self.game.initial_state()
        for i in idx.tolist():
            self.states[i] = initial
        self.player[idx] = self.game.to_move(initial)
        self.result[idx] = _result_code(self.game.winner(initial))

    def legal_mask(self, idx: np.ndarray) -> np.ndarray:
        mask = np.zeros((len(idx), self.num_moves), dtype=bool)
        for j, i in enumerate(idx.tolist()):
            mask[j, list(self.game.legal_moves(self.states[i]))] = True
        return mask

    def play(self, idx: np.ndarray, moves: np.ndarray) -> None:
        for i, move in zip(idx.tolist(), moves.tolist(), strict=True):
            state = self.states[i] = self.game.apply(self.states[i], move)
            self.player[i] = self.game.to_move(state)
            self.result[i] = _result_code(self.game.winner(state))

    def state(self, i: int) -> Any:
        return self.states[i]


class GridPositions(Positions):
    """Numpy boards for k-in-a-row games on a grid: a move places a stone on a cell (tic-tac-toe) or drops it
    into a column (connect four, `gravity`). A step is a handful of array operations over all games.

    Rules: `cells[i]` is game i's board row by row, top row first, as `Game.board` gives it (-1 empty, else the
    owner); each player's stones are also an int64 bitboard laid out as `ConnectFour`'s (bit
    `column * (rows + 1) + row from the bottom`, a spare bit on top of each column so lines do not wrap), so the
    win test is a few shifts over all games at once.

    Text: each game's prompt is kept as a row of code points and edited in place: a move changes the one
    character where the renderer draws that cell, and the status line is copied in from a cache. Where each cell
    is drawn is found once, by rendering boards that differ in one cell; so the renderer stays the only
    definition of the board's text, and a renderer that does not draw one character per cell is refused.
    """

    def __init__(
        self, game: Game[Any], renderer: Renderer, num: int, rows: int, columns: int, connect: int, gravity: bool
    ) -> None:
        super().__init__(game, renderer, num)
        self.rows, self.columns, self.connect, self.gravity = rows, columns, connect, gravity
        self.size = rows * columns
        self.cells = np.full((num, self.size), EMPTY, dtype=np.int8)
        self.heights = np.zeros((num, columns), dtype=np.int8)  # stones per column (used by gravity games)
        self.filled = np.zeros(num, dtype=np.int16)
        self.stones = np.zeros((num, 2), dtype=np.int64)
        height = rows + 1
        self._bits = [1 << (c * height + rows - 1 - r) for r in range(rows) for c in range(columns)]  # cell order
        self._bit = np.array(self._bits, dtype=np.int64)
        self._shifts = (1, height, height - 1, height + 1)  # vertical, horizontal, two diagonals
        self._move_bits = 1 << np.arange(self.num_moves, dtype=np.int64)  # legal moves as one int: a status key
        self._layout_text()

    # -- rules ---------------------------------------------------------------------------------------------------

    def restart(self, idx: np.ndarray) -> None:
        self.cells[idx] = EMPTY
        self.heights[idx] = 0
        self.filled[idx] = 0
        self.stones[idx] = 0
        self.player[idx] = 0
        self.result[idx] = ONGOING
        self._text[idx, : len(self._board)] = self._board

    def legal_mask(self, idx: np.ndarray) -> np.ndarray:
        free = self.heights[idx] < self.rows if self.gravity else self.cells[idx] == EMPTY
        return free & (self.result[idx] == ONGOING)[:, None]

    def play(self, idx: np.ndarray, moves: np.ndarray) -> None:
        if self.gravity:
            cell = (self.rows - 1 - self.heights[idx, moves].astype(np.int64)) * self.columns + moves
            self.heights[idx, moves] += 1
        else:
            cell = moves
        mover = self.player[idx]
        self.cells[idx, cell] = mover
        self._text[idx, self._cell_at[cell]] = self._cell_char[cell, mover + 1]
        self.filled[idx] += 1
        self.stones[idx, mover] |= self._bit[cell]
        won = self._has_line(self.stones[idx, mover])
        full = self.filled[idx] == self.size
        self.result[idx] = np.where(won, mover, np.where(full, DRAW, ONGOING))
        self.player[idx] = 1 - mover

    def _has_line(self, bits: np.ndarray) -> np.ndarray:
        won = np.zeros(len(bits), dtype=bool)
        for shift in self._shifts:
            run = bits
            for k in range(1, self.connect):
                run = run & (bits >> (k * shift))
            won |= run != 0
        return won

    def state(self, i: int) -> Any:
        winner = None if self.result[i] == ONGOING else int(self.result[i])
        return self.state_of(self.cells[i].tolist(), int(self.player[i]), winner)

    @abstractmethod
    def state_of(self, cells: list[int], player: int, winner: int | None) -> Any:
        """The rules' state for a board given as `cells` (row-major, top row first)."""

    # -- text ----------------------------------------------------------------------------------------------------

    def _layout_text(self) -> None:
        """Find where the renderer draws each cell and size the per-game text buffer."""
        empty = [EMPTY] * self.size
        board = self.renderer.render(self.state_of(empty, 0, None))
        self._cell_at = np.zeros(self.size, dtype=np.int64)
        self._cell_char = np.zeros((self.size, 3), dtype=np.uint32)  # code point for empty, player 0, player 1
        for cell in range(self.size):
            for owner in (0, 1):
                cells = list(empty)
                cells[cell] = owner
                text = self.renderer.render(self.state_of(cells, 1 - owner, None))
                diff = [k for k, (a, b) in enumerate(zip(board, text, strict=False)) if a != b]
                if len(text) != len(board) or len(diff) != 1 or (owner == 1 and diff[0] != self._cell_at[cell]):
                    raise ArenaError(f"{type(self.renderer).__name__} does not draw cell {cell} as one character")
                self._cell_at[cell] = diff[0]
                self._cell_char[cell, owner + 1] = ord(text[diff[0]])
            self._cell_char[cell, 0] = ord(board[self._cell_at[cell]])
        head = prompt_text(board, "")
        if not head.startswith(board):
            raise ArenaError("prompt_text must put the board first")
        self._board = np.array([ord(ch) for ch in board], dtype=np.uint32)
        self._status_at = len(head)
        longest = max(len(turn_status(self.renderer.symbol(p), range(self.num_moves))) for p in (0, 1))
        # Status lines padded with NUL, which numpy drops when it turns the buffer into str.
        self._status_codes = np.zeros((2 << self.num_moves, longest), dtype=np.uint32)
        self._status_known = np.zeros(2 << self.num_moves, dtype=bool)
        self._text = np.zeros((self.num, len(head) + longest), dtype=np.uint32)
        self._text[:, : len(head)] = [ord(ch) for ch in head]

    def prompts(self, idx: np.ndarray, legal: np.ndarray | None = None) -> list[str]:
        legal = self.legal_mask(idx) if legal is None else legal
        keys = (self.player[idx].astype(np.int64) << self.num_moves) | (legal @ self._move_bits)
        missing = np.flatnonzero(~self._status_known[keys])
        for j in missing[np.unique(keys[missing], return_index=True)[1]].tolist():
            status = turn_status(self.renderer.symbol(int(self.player[idx[j]])), np.flatnonzero(legal[j]).tolist())
            self._status_codes[keys[j], : len(status)] = [ord(ch) for ch in status]
            self._status_known[keys[j]] = True
        text = self._text[idx]
        text[:, self._status_at :] = self._status_codes[keys]
        return _strings(text)

    def board_texts(self, idx: np.ndarray) -> list[str]:
        return _strings(self._text[idx, : len(self._board)])


def _strings(codes: np.ndarray) -> list[str]:
    """Rows of code points as Python strings (trailing NULs dropped)."""
    codes = np.ascontiguousarray(codes)
    return codes.view(np.dtype((np.str_, codes.shape[1]))).ravel().tolist()


class TicTacToePositions(GridPositions):
    """Tic-tac-toe on numpy boards: a move is a cell."""

    def __init__(self, game: TicTacToe, renderer: Renderer, num: int) -> None:
        super().__init__(game, renderer, num, rows=3, columns=3, connect=3, gravity=False)

    def state_of(self, cells: list[int], player: int, winner: int | None) -> TicTacToeState:
        return TicTacToeState(tuple(cells), player, winner)


class ConnectFourPositions(GridPositions):
    """Connect four (any size whose bitboards fit an int64) on numpy boards: a move is a column."""

    def __init__(self, game: ConnectFour, renderer: Renderer, num: int) -> None:
        super().__init__(game, renderer, num, rows=game.rows, columns=game.columns, connect=game.connect, gravity=True)

    def state_of(self, cells: list[int], player: int, winner: int | None) -> ConnectFourState:
        stones = [sum(bit for bit, owner in zip(self._bits, cells, strict=True) if owner == p) for p in (0, 1)]
        heights = tuple(
            sum(cells[r * self.columns + c] != EMPTY for r in range(self.rows)) for c in range(self.columns)
        )
        return ConnectFourState((stones[0], stones[1]), heights, player, winner)


def make_positions(game: Game[Any], renderer: Renderer, num: int, fast: bool = True) -> Positions:
    """Numpy boards for the built-in games (exact types: a subclass may change rules or text), else game states."""
    if fast and type(game) is TicTacToe and type(renderer) is TicTacToeRenderer:
        return TicTacToePositions(game, renderer, num)
    if (
        fast
        and type(game) is ConnectFour
        and type(renderer) is ConnectFourRenderer
        and (game.rows + 1) * game.columns <= 63  # bitboards fit an int64
        and game.columns <= 16  # status lines are cached by (side to move, legal columns): 2^(columns + 1) keys
    ):
        return ConnectFourPositions(game, renderer, num)
    return StatePositions(game, renderer, num)


def _result_code(winner: int | None) -> int:
    return ONGOING if winner is None else winner


def random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random legal move per row of a legal-move mask (each row needs at least one)."""
    pick = (rng.random(len(mask)) * mask.sum(axis=1)).astype(np.int64)
    return (np.cumsum(mask, axis=1) > pick[:, None]).argmax(axis=1)


# -- opponents, many games at a time -----------------------------------------------------------------------------


class BatchOpponent(ABC):
    """Chooses the replies in many games at once: the vector env's interface to scripted opponents."""

    name: str = "opponent"

    def start(self, env: TextGameVectorEnv, idx: np.ndarray) -> None:  # noqa: B027 - optional hook
        """New games begin in envs `idx` (before any move)."""

    @abstractmethod
    def choose(self, env: TextGameVectorEnv, idx: np.ndarray) -> np.ndarray:
        """A legal move for the side to move in each game of `idx`."""


class RandomBatchOpponent(BatchOpponent):
    """The `random` tier, batched: uniform over the legal moves, drawn from the env's generator."""

    name = "random"

    def choose(self, env: TextGameVectorEnv, idx: np.ndarray) -> np.ndarray:
        return random_legal(env.legal_mask(idx), env.np_random)


class PerGameOpponent(BatchOpponent):
    """Any scripted opponent, through its `choose_many` (a model opponent answers the games in one call). Each game
    has its own generator, seeded from the env's as `TextGameEnv` seeds its opponent, so a game replays there with
    `options={"agent_seat", "opponent_seed"}`.
    """

    def __init__(self, opponent: Any) -> None:
        self.opponent, self.name = opponent, opponent.name
        self._rngs: dict[int, np.random.Generator] = {}

    def start(self, env: TextGameVectorEnv, idx: np.ndarray) -> None:
        seeds = env.np_random.integers(2**63 - 1, size=len(idx))
        env.opponent_seed[idx] = seeds
        for i, seed in zip(idx.tolist(), seeds.tolist(), strict=True):
            self._rngs[i] = np.random.default_rng(seed)

    def choose(self, env: TextGameVectorEnv, idx: np.ndarray) -> np.ndarray:
        ids = idx.tolist()
        moves = self.opponent.choose_many([env.state(i) for i in ids], [self._rngs[i] for i in ids])
        return np.array(moves, dtype=np.int64)


# -- the env -----------------------------------------------------------------------------------------------------


class TextGameVectorEnv(VectorEnv):
    """## Description

    `num_envs` games of one registered game against a scripted opponent, stepped together: the batched form of
    `TextGameEnv` for rollouts that need many games (and for measuring speed). Each sub-env is what
    `TextGameEnv` would be with the same seat, opponent and config: the same prompt text, answer parsing,
    invalid-move handling, rewards and episode ends. Built-in games run on numpy boards whose prompt text is
    edited in place move by move; any other game registered through the `Game` protocol runs on its own states,
    one game at a time (same results, Python speed). Turns follow the game's `to_move` as in `TextGameEnv`: the
    opponent plays every move of its turn, several in a row where the rules say so, and every prompt is for
    the agent's own side.

    ## Action

    A sequence of `num_envs` strings, the completions, read exactly as `TextGameEnv` reads one
    (`<think>...</think><move>N</move>`; `arena.text.parse_answers`, which agrees with `parse_answer`).

    ## Observation

    A tuple of `num_envs` prompts (the user turn `TextGameEnv` shows for the same position), for instance:

        0 1 2
        3 X 5
        6 7 8
        You play O. Legal moves: 0 1 2 3 5 6 7 8

    `system_prompt` is the system turn shared by every game.

    ## Rewards

    As `TextGameEnv`: paid on a game's last step from `config.rewards` (outcome + format share + invalid
    penalty); 0 before. `info["final_info"]["reward_components"]` reports the parts of each finished game.

    ## Starting State

    The empty board; if the opponent's seat moves first, it has already moved. Seats are drawn per game when
    `agent_seat="random"`.

    ## Episode End

    Terminated when a game ends or the agent forfeits; truncated after `max_agent_turns` agent turns, if set.
    Finished games restart in the same step (`AutoresetMode.SAME_STEP`): the observation is then the new
    game's first prompt, and `info["final_obs"]` / `info["final_info"]` hold the finished game's last prompt
    ("... Game over. You won.") and its record (result, reward components, moves, counts, invalid reasons),
    with masks `info["_final_obs"]` / `info["_final_info"]`. Every step's `info` also has `legal_moves`
    (tuples, for the current prompts, as `TextGameEnv`'s `info["legal_moves"]`) and the same as a bool array
    `legal_mask`, `agent_move`, `opponent_move` (-1: none; the last one where the opponent moved several
    times in a row), `format_ok`, `invalid_kind`,
    `invalid_reason`, `forfeit` and `seat`.

    ## Arguments

    `game`, `num_envs`, `opponent` (a tier name or spec, as for `TextGameEnv`, or a `BatchOpponent`),
    `agent_seat`, `config` (an `EnvConfig` or dict) and `EnvConfig` fields as keywords, `game_kwargs`,
    `opponent_cache` (shared built opponents), and `fast=False` to run even built-in games on game states.

    ## Not supported (use `TextGameEnv`)

    * `invalid_move="retry"` (feedback and a second answer on the same board): 'forfeit' and 'random' are.
    * Per-game reset options (`opponent`, `agent_seat`, `start`, `opponent_seed`): one opponent and seat rule for
      all games, started from the empty board. `reset(seed=...)` takes one int for the whole batch.
    * Game-for-game equality of random draws with `TextGameEnv` under the same seed: one generator
      (`np_random`) drives seats, the batched `random` tier and random replacement moves for all games. Other
      tiers get a per-game seed (`final_info["opponent_seed"]`) that replays the game in `TextGameEnv`.
    * The per-turn `info` of `TextGameEnv` (chat messages, think text, opponent timing) and rendering.

    ## Version History

    * v0: initial version.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        game: str = "tictactoe",
        num_envs: int = 64,
        opponent: str | dict[str, Any] | BatchOpponent = "random",
        agent_seat: Seat = "random",
        config: EnvConfig | dict[str, Any] | None = None,
        game_kwargs: dict[str, Any] | None = None,
        opponent_cache: dict[str, Any] | None = None,
        fast: bool = True,
        **overrides: Any,
    ) -> None:
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ArenaError(f"num_envs must be a positive int, got {num_envs!r}")
        self.spec_game = get_spec(game)
        self.game = self.spec_game.game(**(game_kwargs or {}))
        self.config = make_config(config, overrides)
        self.renderer = self.spec_game.renderer(self.game, self.config.board_layout)
        if self.config.invalid_move == "retry":
            raise ArenaError(
                "TextGameVectorEnv supports invalid_move='forfeit' or 'random'; use TextGameEnv for 'retry'"
            )
        self.num_envs = num_envs
        self.default_seat = _check_seat(agent_seat)
        self.opponent = self._batch_opponent(opponent, {} if opponent_cache is None else opponent_cache)
        self.positions = make_positions(self.game, self.renderer, num_envs, fast=fast)
        self.system_prompt = system_prompt(self.renderer, self.config.answer)
        text = spaces.Text(max_length=self.config.max_prompt_chars, min_length=1, charset=CHARSET)
        self.single_observation_space = text
        self.single_action_space = spaces.Text(max_length=self.config.max_prompt_chars, min_length=0, charset=CHARSET)
        # One shared Text space per slot: batch_space would deep-copy it num_envs times (seconds for thousands).
        self.observation_space = spaces.Tuple((self.single_observation_space,) * num_envs)
        self.action_space = spaces.Tuple((self.single_action_space,) * num_envs)

        n = num_envs
        self._all = np.arange(n)
        self.seat = np.zeros(n, dtype=np.int8)  # the agent's player index in each game
        self.opponent_seed = np.full(n, -1, dtype=np.int64)  # per-game opponent seed, -1 for batched opponents
        self.agent_turns = np.zeros(n, dtype=np.int64)
        self.formatted_turns = np.zeros(n, dtype=np.int64)
        self.unparseable_moves = np.zeros(n, dtype=np.int64)
        self.illegal_moves = np.zeros(n, dtype=np.int64)
        self.invalid_moves = np.zeros(n, dtype=np.int64)
        self._reasons: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        self._history = np.zeros((n, self.game.info.max_game_length), dtype=np.int64)
        self._plies = np.zeros(n, dtype=np.int64)
        self._move_bits = 1 << np.arange(min(self.game.info.num_moves, 63), dtype=np.int64)
        self._legal_tuples: dict[int, tuple[int, ...]] = {}  # legal-move mask as bits -> the moves
        self._started = False

    def _batch_opponent(self, value: Any, cache: dict[str, Any]) -> BatchOpponent:
        if isinstance(value, BatchOpponent):
            return value
        from opponents import RandomOpponent, make_opponent, parse_opponent

        opponent = make_opponent(parse_opponent(value), self.game, cache=cache)
        if type(opponent) is RandomOpponent:
            return RandomBatchOpponent()
        return PerGameOpponent(opponent)

    # -- reading the games -------------------------------------------------------------------------------------

    def legal_mask(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Which moves are legal in each game (all games, or those in `idx`)."""
        return self.positions.legal_mask(self._all if idx is None else np.asarray(idx))

    def prompts(self, idx: np.ndarray | None = None) -> list[str]:
        """The prompt for the side to move in each game, agent or not (all games, or those in `idx`)."""
        return self.positions.prompts(self._all if idx is None else np.asarray(idx))

    def state(self, i: int) -> Any:
        """Game i's position as a state of `self.game`."""
        return self.positions.state(i)

    def moves(self, i: int) -> list[int]:
        """The moves of game i so far, both sides, from the empty board."""
        return self._history[i, : self._plies[i]].tolist()

    # -- episodes ----------------------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[tuple[str, ...], dict[str, Any]]:
        if options:
            raise ArenaError(f"TextGameVectorEnv takes no reset options (got {sorted(options)}); see its docstring")
        if seed is not None and not isinstance(seed, int | np.integer):
            raise ArenaError(f"seed must be one int for all games, got {seed!r}")
        super().reset(seed=None if seed is None else int(seed))
        self._start_games(self._all)
        self._started = True
        return self._observe(self._all_none(), self._all_none())

    def step(
        self, actions: Sequence[str]
    ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise ArenaError("call reset() before step()")
        if isinstance(actions, str) or not hasattr(actions, "__len__") or len(actions) != self.num_envs:
            sized = hasattr(actions, "__len__") and not isinstance(actions, str)
            given = f"{len(actions)} answers" if sized else f"a {type(actions).__name__}"
            raise ArenaError(f"step() takes a sequence of {self.num_envs} answers, one per game; got {given}")
        texts = actions if set(map(type, actions)) == {str} else [_as_text(a) for a in actions]
        answers = parse_answers(texts, self.config.answer)
        self.agent_turns += 1
        self.formatted_turns += answers.format_ok

        legal = self.legal_mask()
        moves = answers.moves
        ok = answers.has_move & (moves >= 0) & (moves < self.positions.num_moves)
        ok[ok] = legal[ok, moves[ok]]
        invalid = np.flatnonzero(~ok)
        kinds, reasons = self._all_none(), self._all_none()
        for i in invalid.tolist():
            kinds[i], reasons[i] = self._why_invalid(i, answers.parsed(i))
            self._reasons[i].append({"turn": int(self.agent_turns[i]), "kind": kinds[i], "reason": reasons[i]})
        self.invalid_moves[invalid] += 1
        self.illegal_moves[invalid] += kinds[invalid] == "illegal"
        self.unparseable_moves[invalid] += kinds[invalid] == "unparseable"

        agent_move = np.where(ok, moves, NO_MOVE)
        forfeit = np.zeros(self.num_envs, dtype=bool)
        if self.config.invalid_move == "random" and len(invalid):
            agent_move[invalid] = random_legal(legal[invalid], self.np_random)
        else:
            forfeit[invalid] = True
        movers = np.flatnonzero(~forfeit)
        self._play(movers, agent_move[movers])
        opponent_move = np.full(self.num_envs, NO_MOVE, dtype=np.int64)
        opponent_move[movers] = self._opponent_turns(movers)

        terminated = forfeit | (self.positions.result != ONGOING)
        truncated = np.zeros(self.num_envs, dtype=bool)
        if self.config.max_agent_turns is not None:
            truncated = ~terminated & (self.agent_turns >= self.config.max_agent_turns)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        finished = np.flatnonzero(terminated | truncated)
        final: dict[str, Any] = {}
        if len(finished):
            final = self._finish(finished, forfeit, truncated, rewards)
            self._start_games(finished)
        obs, info = self._observe(kinds, reasons)
        info.update(agent_move=agent_move, opponent_move=opponent_move, format_ok=answers.format_ok, forfeit=forfeit)
        info.update(final)
        return obs, rewards, terminated, truncated, _with_masks(info, self.num_envs)

    def _why_invalid(self, i: int, parsed: Any) -> tuple[str, str]:
        """The kind and reason `TextGameEnv` reports for an answer that gives no legal move."""
        move, kind, reason, _ = play_answer(self.game, self.state(i), parsed)
        if move is not None:
            raise ArenaError(f"move {move} is legal to the rules but not in the legal-move mask of game {i}")
        return kind, reason

    def _play(self, idx: np.ndarray, moves: np.ndarray) -> None:
        self.positions.play(idx, moves)
        self._history[idx, self._plies[idx]] = moves
        self._plies[idx] += 1

    def _opponent_moves(self, idx: np.ndarray) -> np.ndarray:
        if not len(idx):
            return np.zeros(0, dtype=np.int64)
        moves = np.asarray(self.opponent.choose(self, idx), dtype=np.int64)
        legal = self.legal_mask(idx)
        if moves.shape != idx.shape or not legal[np.arange(len(idx)), np.clip(moves, 0, legal.shape[1] - 1)].all():
            raise ArenaError(f"opponent {self.opponent.name!r} chose an illegal move: {moves.tolist()}")
        self._play(idx, moves)
        return moves

    def _opponent_turns(self, idx: np.ndarray) -> np.ndarray:
        """The opponent plays in games `idx` for as long as `to_move` says it is its turn (several moves in a row
        where the rules say so); returns its last move in each game, NO_MOVE where it did not move."""
        last = np.full(len(idx), NO_MOVE, dtype=np.int64)
        positions = self.positions
        while True:
            waiting = np.flatnonzero((positions.result[idx] == ONGOING) & (positions.player[idx] != self.seat[idx]))
            if not len(waiting):
                return last
            last[waiting] = self._opponent_moves(idx[waiting])

    def _start_games(self, idx: np.ndarray) -> None:
        self.positions.restart(idx)
        if self.default_seat == "random":
            self.seat[idx] = self.np_random.integers(2, size=len(idx))
        else:
            self.seat[idx] = ("first", "second").index(self.default_seat)
        for i in idx[self.invalid_moves[idx] > 0].tolist():
            self._reasons[i] = []
        for counter in (self.agent_turns, self.formatted_turns, self.unparseable_moves, self.illegal_moves):
            counter[idx] = 0
        self.invalid_moves[idx] = 0
        self._plies[idx] = 0
        self.opponent.start(self, idx)
        self._opponent_turns(idx)
        if (self.positions.result[idx] != ONGOING).any():
            raise ArenaError(
                "the opponent's first move ends the game before the agent moves; this game cannot be played"
            )

    def _finish(
        self, idx: np.ndarray, forfeit: np.ndarray, truncated: np.ndarray, rewards: np.ndarray
    ) -> dict[str, Any]:
        """Score the games in `idx` (they just ended) and describe them for `info["final_info"]`."""
        n = self.num_envs
        outcome = self.positions.result[idx]
        code = np.where(outcome == DRAW, DRAW_CODE, np.where(outcome == self.seat[idx], WIN_CODE, LOSS_CODE))
        code = np.where(truncated[idx], TRUNCATED_CODE, code)
        code = np.where(forfeit[idx], LOSS_CODE, code)
        results = self._all_none()
        results[idx] = RESULTS[code]
        # RewardConfig.components scores each distinct (result, formatted turns, turns, invalid moves) once.
        counts = np.stack([code, self.formatted_turns[idx], self.agent_turns[idx], self.invalid_moves[idx]], axis=1)
        kinds, which = np.unique(counts, axis=0, return_inverse=True)
        parts = {key: np.zeros(n) for key in ("outcome", "format", "invalid")}
        for k, (result, formatted, turns, invalid) in enumerate(kinds.tolist()):
            components = self.config.rewards.components(RESULTS[result], formatted, turns, invalid)
            games = idx[which.ravel() == k]
            rewards[games] = float(sum(components.values()))
            for key, value in components.items():
                parts[key][games] = value
        final_obs = self._all_none()
        status = {result: game_over_status(result) for result in RESULTS}
        final_obs[idx] = list(map(prompt_text, self.positions.board_texts(idx), map(status.get, results[idx])))
        moves, reasons = self._all_none(), self._all_none()
        history = self._history[idx].tolist()
        moves[idx] = [h[:plies] for h, plies in zip(history, self._plies[idx].tolist(), strict=True)]
        for i in idx.tolist():
            reasons[i] = list(self._reasons[i])
        done = np.zeros(n, dtype=bool)
        done[idx] = True
        record = {
            "result": results,
            "reward_components": _with_masks(parts, n, done),
            "moves": moves,
            "seat": SEATS[self.seat],
            "opponent": np.full(n, self.opponent.name, dtype=object),
            "opponent_seed": self.opponent_seed.copy(),
            "agent_turns": self.agent_turns.copy(),
            "format_errors": self.agent_turns - self.formatted_turns,
            "unparseable_moves": self.unparseable_moves.copy(),
            "illegal_moves": self.illegal_moves.copy(),
            "invalid_moves": self.invalid_moves.copy(),
            "invalid_reasons": reasons,
            "forfeit": forfeit.copy(),
        }
        return {
            "final_obs": final_obs,
            "_final_obs": done,
            "final_info": _with_masks(record, n, done),
            "_final_info": done,
        }

    def _observe(self, kinds: np.ndarray, reasons: np.ndarray) -> tuple[tuple[str, ...], dict[str, Any]]:
        """Every game's prompt and the per-step info, from one legal-move mask of the positions now."""
        legal = self.legal_mask()
        info = {
            "legal_moves": self._legal_moves(legal),
            "legal_mask": legal,
            "seat": SEATS[self.seat],
            "invalid_kind": kinds,
            "invalid_reason": reasons,
        }
        return tuple(self.positions.prompts(self._all, legal)), _with_masks(info, self.num_envs)

    def _legal_moves(self, legal: np.ndarray) -> np.ndarray:
        """Each game's legal moves as a tuple (what `TextGameEnv` gives as `info["legal_moves"]`), one tuple per
        distinct mask: games share the few masks a step has, so this costs a lookup, not a list per game."""
        if legal.shape[1] > 62:  # masks no longer fit an int64 key
            out = np.empty(len(legal), dtype=object)
            out[:] = [tuple(np.flatnonzero(row).tolist()) for row in legal]
            return out
        keys = legal @ self._move_bits
        distinct, first, where = np.unique(keys, return_index=True, return_inverse=True)
        table = np.empty(len(distinct), dtype=object)
        for k, (key, j) in enumerate(zip(distinct.tolist(), first.tolist(), strict=True)):
            moves = self._legal_tuples.get(key)
            if moves is None:
                moves = self._legal_tuples[key] = tuple(np.flatnonzero(legal[j]).tolist())
            table[k] = moves
        return table[where.ravel()]

    def _all_none(self) -> np.ndarray:
        return np.full(self.num_envs, None, dtype=object)


def _with_masks(info: dict[str, Any], n: int, mask: np.ndarray | None = None) -> dict[str, Any]:
    """Gymnasium's vector info layout: each key `k` comes with a bool array `_k` saying which envs have it."""
    mask = np.ones(n, dtype=bool) if mask is None else mask
    out = dict(info)
    for key in info:
        if not key.startswith("_") and f"_{key}" not in info:
            out[f"_{key}"] = mask
    return out
