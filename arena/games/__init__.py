"""Games (rules and board text) and the game registry. Built-in games: tic-tac-toe and connect four."""

from __future__ import annotations

from .base import DRAW, Game, GameInfo
from .connect_four import ConnectFour, ConnectFourRenderer, ConnectFourState
from .registry import GameSpec, get_spec, list_games, make_game, register_game
from .tictactoe import TicTacToe, TicTacToeRenderer, TicTacToeState


def _register_builtins() -> None:
    register_game(
        GameSpec(
            name="tictactoe",
            make_game=TicTacToe,
            make_renderer=TicTacToeRenderer,
            env_id="arena/TicTacToe-v0",
            description="Three in a row on 3x3; cells 0-8 row by row.",
        )
    )
    register_game(
        GameSpec(
            name="connect_four",
            make_game=ConnectFour,
            make_renderer=ConnectFourRenderer,
            env_id="arena/ConnectFour-v0",
            description="Four in a row on 6x7 (configurable); a move is a column 0-6.",
            perfect="opponents.solver:perfect_connect_four",
        )
    )


_register_builtins()

__all__ = [
    "DRAW",
    "ConnectFour",
    "ConnectFourRenderer",
    "ConnectFourState",
    "Game",
    "GameInfo",
    "GameSpec",
    "TicTacToe",
    "TicTacToeRenderer",
    "TicTacToeState",
    "get_spec",
    "list_games",
    "make_game",
    "register_game",
]
