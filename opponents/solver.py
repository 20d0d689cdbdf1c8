"""Perfect connect four through `bitbully` (a C++ solver; AGPL-3.0, so an optional extra only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from arena.errors import ArenaError, GameOverError, MissingExtraError, OpponentSpecError
from arena.games.connect_four import ConnectFour, ConnectFourState

from .base import Opponent

_INSTALL_HINT = "install the solver extra: pip install 'arena[solver]' (bitbully, AGPL-3.0)"


def _load_bitbully() -> Any:
    try:
        import bitbully
    except ImportError as exc:
        raise MissingExtraError(f"the 'perfect' connect four opponent needs bitbully; {_INSTALL_HINT}") from exc
    return bitbully


class BitBullyOpponent(Opponent):
    """Exact connect four play (6x7, four in a row), uniformly random among all optimal moves."""

    name = "perfect"
    solver = "bitbully"  # how move-quality reports name it

    def __init__(self, game: Any, tie_break: str = "random") -> None:
        super().__init__(game)
        if not isinstance(game, ConnectFour) or (game.rows, game.columns, game.connect) != (6, 7, 4):
            raise ArenaError(
                f"the bitbully solver plays only standard connect four (6 rows, 7 columns, connect 4), not "
                f"{game.name!r}; use a depth-<d> tier for other boards"
            )
        if tie_break not in ("random", "first"):
            raise OpponentSpecError(f"tie_break must be 'random' or 'first', got {tie_break!r}")
        self.tie_break = tie_break
        if tie_break == "first":
            self.name = "perfect-first"
        self._bitbully = _load_bitbully()
        self._solver: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_bitbully": None, "_solver": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bitbully = _load_bitbully()

    def _board(self, state: ConnectFourState) -> Any:
        # bitbully reads a 7x6 array as columns, bottom cell first, with 1 for the first player and 2 for the second.
        columns = [[0] * 6 for _ in range(7)]
        for c in range(7):
            for r in range(6):
                bit = self.game.bit(c, r)
                if state.stones[0] & bit:
                    columns[c][r] = 1
                elif state.stones[1] & bit:
                    columns[c][r] = 2
        return self._bitbully.Board(columns)

    def move_scores(self, state: ConnectFourState) -> dict[int, int]:
        """Solver score of every legal move for the player to move: > 0 wins, 0 draws, < 0 loses."""
        if state.result is not None:
            raise GameOverError("no legal move: the game is over")
        if self._solver is None:
            self._solver = self._bitbully.BitBully()  # loads the opening book once (~0.2 s)
        return {int(m): int(v) for m, v in self._solver.score_all_moves(self._board(state)).items()}

    def best_moves(self, state: ConnectFourState) -> tuple[int, ...]:
        scores = self.move_scores(state)
        best = max(scores.values())
        return tuple(sorted(m for m, v in scores.items() if v == best))

    def choose(self, state: ConnectFourState, rng: np.random.Generator) -> int:
        best = self.best_moves(state)
        if self.tie_break == "first" or len(best) == 1:
            return best[0]
        return best[int(rng.integers(len(best)))]


def perfect_connect_four(game: ConnectFour, tie_break: str = "random") -> Opponent:
    """The `perfect` tier for connect four: bitbully on the standard board, exact minimax on other sizes."""
    if (game.rows, game.columns, game.connect) == (6, 7, 4):
        return BitBullyOpponent(game, tie_break=tie_break)
    from .minimax import Minimax

    return Minimax(game, depth=None, tie_break=tie_break)  # type: ignore[arg-type]
