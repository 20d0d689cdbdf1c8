"""The game protocol: pure, immutable two-player rules that know nothing of text."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from arena.errors import IllegalMoveError

State = TypeVar("State")

#: Outcome of a finished game: the index of the winner (0 moves first), or DRAW.
DRAW = -1


@dataclass(frozen=True)
class GameInfo:
    """Fixed facts about a game, declared up front (as OpenSpiel does)."""

    name: str
    num_players: int  # always 2
    max_game_length: int  # the most moves a game can take (turn skips are not moves; explicit pass moves are)
    num_moves: int  # moves are the integers 0 .. num_moves - 1


class Game(ABC, Generic[State]):
    """Rules of a finite, deterministic, two-player, zero-sum, perfect-information game with moves numbered
    0..num_moves-1.

    States are immutable values. Players are 0 (moves first) and 1. Subclasses implement the abstract
    methods; `returns`, `heuristic`, `ordered_moves` and `symmetries` are optional. Rendering a state as text
    and parsing a move from text live in `arena.text`, not here.

    What arena assumes, and no more: the player to move is whatever `to_move` says (turns need not
    alternate: a player who cannot move may pass through a move of the game's own or have `to_move` skip
    them, and a move may earn another turn); a finished game's value for each player comes from `winner`
    and `returns` (the last mover may lose: misere games, games decided by a score). The env, vector env,
    every opponent tier, move quality, evaluation, rollouts and `arena play` follow this contract.
    A game is rebuilt from `_init_args()` when pickled, so constructor arguments must fully describe it.
    """

    info: GameInfo

    @property
    def name(self) -> str:
        return self.info.name

    @abstractmethod
    def initial_state(self) -> State:
        """The position before any move."""

    @abstractmethod
    def to_move(self, state: State) -> int:
        """The player (0 or 1) whose turn it is in an unfinished `state` (unused once the game is over).

        It may name the same player twice in a row: an extra turn, or the other player's turn skipped.
        """

    @abstractmethod
    def legal_moves(self, state: State) -> tuple[int, ...]:
        """Legal moves of the player to move, ascending; empty exactly when the game is over.

        A player with nothing to play must still have a move (a pass move of the game's own) or be skipped
        by `to_move`: an unfinished state without legal moves leaves nobody able to continue.
        """

    @abstractmethod
    def apply(self, state: State, move: int) -> State:
        """The state after the player to move plays `move` (a new value; `state` is unchanged); raises
        `IllegalMoveError` if the rules forbid the move or the game is over."""

    @abstractmethod
    def winner(self, state: State) -> int | None:
        """None while the game goes on; else the winning player (0 or 1), or `DRAW`.

        The game's own outcome, whoever moved last. The env's reward (win, draw, loss) comes from this.
        """

    @abstractmethod
    def key(self, state: State) -> Hashable:
        """A hashable value identifying the position for transposition tables: two states with the same key
        must have the same player to move and the same future (legal moves, outcomes)."""

    @abstractmethod
    def board(self, state: State) -> tuple[tuple[int, ...], ...]:
        """The board as rows (top row first) of cell owners: -1 empty, else the player index.

        Renderers and tooling read the board through this; rules keep their own representation.
        """

    def ordered_moves(self, state: State) -> Sequence[int]:
        """Legal moves in the order search should try them (best first speeds up alpha-beta)."""
        return self.legal_moves(state)

    def is_over(self, state: State) -> bool:
        return self.winner(state) is not None

    def heuristic(self, state: State) -> float:
        """Estimated value in [-1, 1] for the player to move of a non-terminal state (1: sure to win).

        Used by `depth-<d>` search at its depth limit, never for a finished game. The default (0.0) makes
        depth-limited search treat every unfinished line as even.
        """
        return 0.0

    def symmetries(self, state: State) -> Sequence[tuple[State, Sequence[int]]]:
        """Positions equivalent to `state`, each with the move permutation that maps moves onto it.

        Optional; the default lists only the identity.
        """
        return [(state, tuple(range(self.info.num_moves)))]

    def play(self, moves: Sequence[int], state: State | None = None) -> State:
        """Apply a sequence of moves from `state` (default: the initial position)."""
        state = self.initial_state() if state is None else state
        for move in moves:
            if self.is_over(state):
                raise IllegalMoveError(f"illegal move {move!r}: the game is already over")
            state = self.apply(state, move)
        return state

    def play_random(
        self,
        plies: int,
        rng: Any,
        state: State | None = None,
        choose: Callable[[State, Any], int] | None = None,
    ) -> tuple[State, list[int]]:
        """Up to `plies` moves from `state` (default: the initial position), each drawn uniformly from the legal
        moves with the numpy generator `rng` (or by `choose(state, rng)`), stopping early where the game ends.
        Returns the state reached and the moves played: the random openings of curricula, training's decision
        points and evaluation's unseen starts."""
        state = self.initial_state() if state is None else state
        moves: list[int] = []
        for _ in range(plies):
            if self.is_over(state):
                break
            if choose is None:
                legal = self.legal_moves(state)
                move = int(legal[int(rng.integers(len(legal)))])
            else:
                move = int(choose(state, rng))
            state = self.apply(state, move)
            moves.append(move)
        return state, moves

    def returns(self, state: State) -> tuple[float, float]:
        """Payoffs of a finished game for players 0 and 1; the default is +1 win, 0 draw, -1 loss from `winner`.

        Override it for a game decided by a score to make exact search (`perfect`, `depth-<d>`) maximise the
        score too (a disc margin, say): a zero-sum pair (r, -r) with r in [-1, 1], positive for the winner,
        negative for the loser, 0 for a draw. Search then prefers a larger payoff, then a faster win (or a
        slower loss). The env's reward still comes from `winner`.
        """
        winner = self.winner(state)
        if winner is None or winner == DRAW:
            return (0.0, 0.0)
        return (1.0, -1.0) if winner == 0 else (-1.0, 1.0)

    def __reduce__(self) -> tuple[Any, ...]:
        # Games are configuration only; rebuild from constructor arguments when pickled.
        return (type(self), self._init_args())

    def _init_args(self) -> tuple[Any, ...]:
        return ()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._init_args() == other._init_args()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._init_args()))
