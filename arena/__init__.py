"""arena: text-game environments, scripted opponents and curricula for training language models with RL.

Importing arena registers the built-in games and their Gymnasium env ids (`arena/TicTacToe-v0`,
`arena/ConnectFour-v0`).
"""

from __future__ import annotations

from arena.errors import (
    ArenaError,
    EpisodeOverError,
    GameConfigError,
    GameOverError,
    IllegalMoveError,
    InvalidMoveError,
    MissingExtraError,
    OpponentSpecError,
    UnknownGameError,
)
from arena.games import GameSpec, get_spec, list_games, make_game, register_game

__version__ = "0.1.0"

__all__ = [
    "ArenaError",
    "EpisodeOverError",
    "GameConfigError",
    "GameOverError",
    "GameSpec",
    "IllegalMoveError",
    "InvalidMoveError",
    "MissingExtraError",
    "OpponentSpecError",
    "UnknownGameError",
    "get_spec",
    "list_games",
    "make_game",
    "register_game",
]
