"""Start positions, the curriculum's second axis: the empty board, openings k plies deep, and tactical puzzles.

Puzzles are found by a depth-2 minimax search along games played by a scripted tier: two plies are enough
to see a move that wins at once (win-in-1) and which moves let the opponent win next turn (must-block).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arena.errors import CurriculumError
from arena.games.base import Game
from opponents.base import Opponent
from opponents.minimax import Minimax, is_loss, is_win
from opponents.spec import make_opponent

from .config import EmptyStart, OpeningStart, PuzzleKind, PuzzleStart
from .episode import EpisodeSeat

_SEATS: tuple[EpisodeSeat, EpisodeSeat] = ("first", "second")
# Puzzle positions are mostly new each time, so a big transposition table would only hold memory.
_PUZZLE_TABLE_SIZE = 100_000


@dataclass(frozen=True)
class Puzzle:
    """A tactical position: `moves` from the initial position lead to it; `answers` are the moves that solve it."""

    kind: PuzzleKind
    moves: tuple[int, ...]
    answers: tuple[int, ...]


def classify(search: Minimax, state: Any) -> tuple[PuzzleKind, tuple[int, ...]] | None:
    """What kind of puzzle `state` is for the player to move, with its answers; None if it is neither.

    `search` must be a depth-2 (or deeper) minimax over the same game. A position with a winning move is a
    win-in-1 even if the opponent also threatens: taking the win is the lesson there.
    """
    game = search.game
    if game.is_over(state) or len(game.legal_moves(state)) < 2:
        return None  # a forced move teaches nothing
    values = search.move_values(state)
    wins = tuple(m for m, v in values.items() if is_win(v))
    if wins:
        return "win-in-1", wins
    safe = tuple(m for m, v in values.items() if not is_loss(v))
    # Exactly one move avoids losing next turn: the opponent has a threat only that move stops. (Several safe
    # moves mean no immediate threat; none means a double threat, which cannot be blocked.)
    if len(safe) == 1:
        return "must-block", safe
    return None


def find_puzzle(
    game: Game[Any],
    kind: PuzzleKind,
    rng: np.random.Generator,
    player: Opponent | None = None,
    *,
    search: Minimax | None = None,
    max_tries: int = 200,
) -> Puzzle:
    """A `kind` puzzle from games `player` (default: random moves) plays against itself, drawn with `rng`.

    Each try plays one game and collects every position along it that is such a puzzle; one of them is
    chosen uniformly. Raises `CurriculumError` if `max_tries` games hold none.
    """
    player = player if player is not None else make_opponent("random", game)
    search = search if search is not None else Minimax(game, depth=2, max_table_size=_PUZZLE_TABLE_SIZE)
    if search.depth is not None and search.depth < 2:
        raise CurriculumError(f"puzzle search needs depth >= 2 to see the opponent's reply, got depth {search.depth}")
    for _ in range(max_tries):
        state = game.initial_state()
        moves: list[int] = []
        found: list[Puzzle] = []
        while not game.is_over(state):
            verdict = classify(search, state)
            if verdict is not None and verdict[0] == kind:
                found.append(Puzzle(kind, tuple(moves), verdict[1]))
            move = int(player.choose(state, rng))
            state = game.apply(state, move)
            moves.append(move)
        if found:
            return found[int(rng.integers(len(found)))]
    raise CurriculumError(
        f"no {kind} position in {max_tries} games of {game.name} played by {player.name!r}; raise max_tries "
        "or let a weaker tier play the lead-up"
    )


def play_opening(game: Game[Any], plies: int, player: Opponent, rng: np.random.Generator) -> tuple[int, ...] | None:
    """`plies` moves played by `player` for both sides, or None if the game ended before that."""
    _, moves = game.play_random(plies, rng, choose=player.choose)
    return tuple(moves) if len(moves) == plies else None


class StartSampler:
    """Draws a start position (and, for puzzles, the seat it implies) from a weighted list of start kinds."""

    def __init__(self, game: Game[Any], starts: Sequence[EmptyStart | OpeningStart | PuzzleStart]) -> None:
        self.game = game
        self.starts = tuple(starts)
        longest = game.info.max_game_length - 1
        for start in self.starts:
            if isinstance(start, OpeningStart) and max(start.plies, start.max_plies or 0) > longest:
                raise CurriculumError(
                    f"opening {start.label!r} is too deep for {game.name} (at most {game.info.max_game_length} "
                    f"moves a game); use plies <= {longest}"
                )
        weights = np.array([start.weight for start in self.starts], dtype=float)
        self.probabilities = weights / weights.sum()
        # Scripted players are built once: search caches then serve every episode.
        self._players: dict[str, Opponent] = {}
        for start in self.starts:
            if isinstance(start, OpeningStart | PuzzleStart) and start.played_by.tier not in self._players:
                self._players[start.played_by.tier] = make_opponent(start.played_by, game)
        has_puzzles = any(isinstance(s, PuzzleStart) for s in self.starts)
        self._search = Minimax(game, depth=2, max_table_size=_PUZZLE_TABLE_SIZE) if has_puzzles else None

    def weights(self) -> dict[str, float]:
        """{start label: probability}, for logging."""
        return {start.label: float(p) for start, p in zip(self.starts, self.probabilities, strict=True)}

    def sample(self, rng: np.random.Generator, seat: EpisodeSeat) -> tuple[tuple[int, ...], EpisodeSeat]:
        """Start moves and the agent's seat (kept, except that a puzzle puts the agent on the side to move)."""
        start = self.starts[int(rng.choice(len(self.starts), p=self.probabilities))]
        if isinstance(start, EmptyStart):
            return (), seat
        player = self._players[start.played_by.tier]
        if isinstance(start, PuzzleStart):
            puzzle = find_puzzle(self.game, start.puzzle, rng, player, search=self._search, max_tries=start.max_tries)
            return puzzle.moves, _SEATS[self.game.to_move(self.game.play(puzzle.moves))]
        return self._opening(start, player, rng, seat), seat

    def _opening(
        self, start: OpeningStart, player: Opponent, rng: np.random.Generator, seat: EpisodeSeat
    ) -> tuple[int, ...]:
        game = self.game
        high = start.max_plies if start.max_plies is not None else start.plies
        for _ in range(start.max_tries):
            plies = int(rng.integers(start.plies, high + 1))
            moves = play_opening(game, plies, player, rng)
            if moves is None:
                continue
            state = game.play(moves)
            if game.is_over(state):
                continue
            # The env refuses a start where the opponent, moving first, ends the game before the agent's turn.
            if _opponent_can_end(game, state, _SEATS.index(seat)):
                continue
            return moves
        raise CurriculumError(
            f"no playable opening {start.label!r} for seat {seat!r} in {start.max_tries} tries on {game.name}; "
            "use fewer plies or raise max_tries"
        )


def _opponent_can_end(game: Game[Any], state: Any, seat: int) -> bool:
    """Whether the player opposite `seat`, moving from `state` until `seat` is to move (several moves where the
    rules give it extra turns), can end the game first."""
    if game.is_over(state):
        return True
    if game.to_move(state) == seat:
        return False
    return any(_opponent_can_end(game, game.apply(state, m), seat) for m in game.legal_moves(state))
