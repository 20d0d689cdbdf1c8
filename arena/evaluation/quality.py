"""Move quality against the solved game: blunders (a move that lowers the game-theoretic value), missed
immediate wins and missed blocks (letting the opponent win at once when another move would not)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arena.games.base import Game


@dataclass(frozen=True)
class Verdict:
    """What one move did. `blunder` is None when no solver is available for the game."""

    blunder: bool | None
    win_chance: bool  # an immediate win was available
    missed_win: bool
    block_chance: bool  # some moves let the opponent win at once, some do not (and no immediate win exists)
    missed_block: bool


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


class MoveJudge:
    """Judges moves of one game. Exact values come from the game's `perfect` tier where it can score every
    move: exact minimax for games of at most `exact_max_length` moves (`perfect` without a solver of its own),
    the bitbully solver for standard connect four when the solver extra is installed, or a game's own solver
    with a `move_values(state)` method. Otherwise only the rule-based checks (missed wins, missed blocks) run,
    and `note` says why exact judging is off."""

    def __init__(self, game: Game[Any], exact_max_length: int = 16) -> None:
        from opponents import make_opponent

        self.game = game
        self._values: Any = None
        self.solver, self.note = "none", ""
        try:
            perfect = make_opponent("perfect", game)
        except ImportError as exc:  # MissingExtraError is an ImportError: a solver extra is optional
            self.note = f"exact move judging is off: the perfect tier needs an extra ({exc})"
            return
        from opponents.minimax import Minimax

        if isinstance(perfect, Minimax):
            if game.info.max_game_length > exact_max_length:
                self.note = (
                    f"exact move judging is off: {game.name} runs up to {game.info.max_game_length} moves and exact "
                    f"minimax is used only up to {exact_max_length} (raise move_quality_max_moves, or give the "
                    "game a solver through GameSpec(perfect=...))"
                )
                return
            self._values, self.solver = perfect.move_values, "minimax"
        elif callable(getattr(perfect, "move_scores", None)):
            self._values, self.solver = perfect.move_scores, getattr(perfect, "solver", type(perfect).__name__)
        elif callable(getattr(perfect, "move_values", None)):
            self._values, self.solver = perfect.move_values, getattr(perfect, "solver", type(perfect).__name__)
        else:
            self.note = (
                f"exact move judging is off: {game.name}'s perfect tier ({type(perfect).__name__}) has no "
                "move_values(state) method to score every move"
            )

    def _wins_now(self, state: Any) -> list[int]:
        mover = self.game.to_move(state)
        return [m for m in self.game.legal_moves(state) if self.game.winner(self.game.apply(state, m)) == mover]

    def judge(self, state: Any, move: int) -> Verdict:
        game = self.game
        wins = self._wins_now(state)
        win_chance = bool(wins)
        missed_win = win_chance and move not in wins
        allows: dict[int, bool] = {}
        if not win_chance:
            mover = game.to_move(state)
            for m in game.legal_moves(state):
                after = game.apply(state, m)
                # Only a move that hands the turn over can let the opponent win at once (not an extra turn).
                allows[m] = not game.is_over(after) and game.to_move(after) != mover and bool(self._wins_now(after))
        block_chance = bool(allows) and any(allows.values()) and not all(allows.values())
        missed_block = block_chance and allows[move]
        blunder = None
        if self._values is not None:
            values = {m: _sign(v) for m, v in self._values(state).items()}
            blunder = values[move] < max(values.values())
        return Verdict(blunder, win_chance, missed_win, block_chance, missed_block)
