"""The project's error hierarchy: every error a user can trigger subclasses `ArenaError`."""

from __future__ import annotations


class ArenaError(Exception):
    """Base class of every error raised by arena, opponents and curricula."""


class InvalidMoveError(ArenaError, ValueError):
    """Text that cannot be read as a move (missing tags, not a number, garbled)."""


class IllegalMoveError(ArenaError, ValueError):
    """A well-formed move that the rules forbid in this position (occupied cell, full column, off board)."""


class UnknownGameError(ArenaError, KeyError):
    """A game name that no registration or entry point provides."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly instead.
        return str(self.args[0]) if self.args else ""


class OpponentSpecError(ArenaError, ValueError):
    """An opponent tier name or spec that cannot be understood."""


class CurriculumError(ArenaError, ValueError):
    """A curriculum config or saved state that cannot be used."""


class GameOverError(ArenaError, ValueError):
    """A move was asked for in a finished game, where no move is legal."""


class GameConfigError(ArenaError, ValueError):
    """Arguments a game cannot be built with (a board too small, a line too long to fit on it)."""


class MissingExtraError(ArenaError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class EpisodeOverError(ArenaError, RuntimeError):
    """`step()` was called after the episode ended; call `reset()` first."""
