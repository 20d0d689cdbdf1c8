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
    """Judges moves of one game. Exact values come from minimax for small games (tic-tac-toe) and from the
    bitbully solver for standard connect four when the solver extra is installed; otherwise only the rule-based
    checks (missed wins, missed blocks) run."""

    def __init__(self, game: Game[Any], exact_max_length: int = 16) -> None:
        self.game = game
        self._values: Any = None
        self.solver = "none"
        if game.info.max_game_length <= exact_max_length:
            from opponents.minimax import Minimax

            minimax = Minimax(game, depth=None)
            self._values, self.solver = minimax.move_values, "minimax"
        elif game.name == "connect_four":
            try:
                from opponents.solver import BitBullyOpponent

                self._values, self.solver = BitBullyOpponent(game).move_scores, "bitbully"
            except ImportError:  # MissingExtraError is an ImportError: the solver extra is optional
                pass

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
            for m in game.legal_moves(state):
                after = game.apply(state, m)
                allows[m] = not game.is_over(after) and bool(self._wins_now(after))
        block_chance = bool(allows) and any(allows.values()) and not all(allows.values())
        missed_block = block_chance and allows[move]
        blunder = None
        if self._values is not None:
            values = {m: _sign(v) for m, v in self._values(state).items()}
            blunder = values[move] < max(values.values())
        return Verdict(blunder, win_chance, missed_win, block_chance, missed_block)
