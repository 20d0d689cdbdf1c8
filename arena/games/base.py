"""The game protocol: pure, immutable two-player rules that know nothing of text."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
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
    num_players: int
    max_game_length: int
    num_moves: int  # moves are the integers 0 .. num_moves - 1


class Game(ABC, Generic[State]):
    """Rules of a two-player, zero-sum, perfect-information game with moves numbered 0..num_moves-1.

    States are immutable values. Players are 0 (moves first) and 1. Subclasses implement the abstract
    methods; `heuristic` and `symmetries` are optional and enable depth-limited search and symmetry-aware
    tooling. Rendering a state as text and parsing a move from text live in `arena.text`, not here.
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
        """The player (0 or 1) whose turn it is."""

    @abstractmethod
    def legal_moves(self, state: State) -> tuple[int, ...]:
        """Legal moves in ascending order; empty when the game is over."""

    @abstractmethod
    def apply(self, state: State, move: int) -> State:
        """The state after `move`; raises `IllegalMoveError` if the rules forbid it."""

    @abstractmethod
    def winner(self, state: State) -> int | None:
        """None while the game goes on; else the winning player (0 or 1) or `DRAW`."""

    @abstractmethod
    def key(self, state: State) -> Hashable:
        """A hashable value identifying the position, for transposition tables."""

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
        """Estimated value in [-1, 1] for the player to move of a non-terminal state.

        The default (0.0) makes depth-limited search treat every unfinished line as even.
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

    def returns(self, state: State) -> tuple[float, float]:
        """Terminal payoffs (+1 win, 0 draw, -1 loss) for players 0 and 1."""
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
