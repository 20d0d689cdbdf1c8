"""Text side of a game, kept apart from the rules: how a board is shown and how an answer is read.

Renderers turn states into board text (the base class and `GridRenderer` here; a built-in game's own renderer
lives with its rules, in `arena/games/`); `turn_status`, `game_over_status` and `prompt_text` build every env's
prompt from it. `parse_answer` turns a model's completion into a move number (`parse_answers`: many at once).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.errors import ArenaError, InvalidMoveError

if TYPE_CHECKING:
    from arena.games.base import Game

SYMBOLS = ("X", "O")
EMPTY_SYMBOL = "."
LEGAL_MOVES = "Legal moves:"  # starts the list of legal moves on a prompt's status line
GAME_OVER = {"win": "You won.", "draw": "Draw.", "loss": "You lost.", "truncated": "Out of turns."}


def clip(text: str, limit: int = 40) -> str:
    """A short, ASCII-only repr of user text for messages (never dumps a megabyte into a log or prompt)."""
    return ascii(text) if len(text) <= limit else ascii(text[:limit]) + f"...({len(text)} chars)"


def turn_status(symbol: str, legal: Iterable[int]) -> str:
    """The prompt's last line while the game goes on: the side to move and its legal moves."""
    return f"You play {symbol}. {LEGAL_MOVES} {' '.join(str(m) for m in legal)}"


def game_over_status(result: str | None) -> str:
    """The prompt's last line once the game is over; `result` is win, draw, loss or truncated (the agent's view)."""
    return f"Game over. {GAME_OVER.get(result or '', '')}".rstrip()


def prompt_text(board: str, status: str) -> str:
    """A user turn: the rendered board, then its status line."""
    return f"{board}\n{status}"


class Renderer(ABC):
    """Shows a game's states as text. One per game; it reads the rules but never changes them."""

    title: str = "a game"
    move_noun: str = "move"
    # True when the board alone shows which moves are legal (tic-tac-toe's free cells show their numbers): the
    # embedded tiny model's chat template then leaves out the status line's list of legal moves.
    board_shows_legal_moves: bool = False
    # The ways this renderer can write a board; the first is the default. `layout` picks one (EnvConfig.board_layout).
    layouts: tuple[str, ...] = ("rows",)

    def __init__(self, game: Game[Any], layout: str | None = None) -> None:
        self.game = game
        if layout is not None and layout not in self.layouts:
            offered = " or ".join(repr(name) for name in self.layouts)
            raise ArenaError(f"{self.title} boards are written as {offered}, not as {clip(str(layout))}")
        self.layout = layout or self.layouts[0]

    @abstractmethod
    def rules(self) -> str:
        """The rules and the move numbering, in a few sentences, for the system prompt."""

    @abstractmethod
    def render(self, state: Any) -> str:
        """The board as text."""

    def symbol(self, player: int) -> str:
        return SYMBOLS[player]

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.game, self.layout))


class GridRenderer(Renderer):
    """Any game whose `board()` is a grid: one row per line, cells as X, O or '.'."""

    def rules(self) -> str:
        n = self.game.info.num_moves
        return f"Players take turns; X moves first. A move is a number from 0 to {n - 1}."

    def render(self, state: Any) -> str:
        return "\n".join(" ".join(EMPTY_SYMBOL if c < 0 else SYMBOLS[c] for c in row) for row in self.game.board(state))


class AnswerFormat(BaseModel):
    """How a completion must be written: `<think>...</think>` then `<move>N</move>`.

    strict: the whole completion is exactly one think block followed by one move block (whitespace aside).
    lenient: the move is read from the last move block anywhere in the text, and the first integer inside it;
    a completion that breaks the strict shape still counts as a format error for the format reward.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    think_tag: str = Field("think", description="Name of the reasoning tag, written <think>...</think>.")
    move_tag: str = Field("move", description="Name of the answer tag, written <move>N</move>.")
    mode: Literal["strict", "lenient"] = Field("strict", description="How forgiving move extraction is.")

    @model_validator(mode="after")
    def _check_tags(self) -> AnswerFormat:
        for tag in (self.think_tag, self.move_tag):
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", tag):
                raise ValueError(f"tag name {tag!r} must be a letter followed by letters, digits, '_' or '-'")
        if self.think_tag == self.move_tag:
            raise ValueError("think_tag and move_tag must differ, e.g. 'think' and 'move'")
        return self

    def instructions(self, move_noun: str) -> str:
        t, m = self.think_tag, self.move_tag
        return (
            f"First think inside <{t}> </{t}>, then give your {move_noun} as <{m}>N</{m}> with N a number, "
            f"and nothing after it."
        )

    def example(self, think: str, move: int) -> str:
        return f"<{self.think_tag}>{think}</{self.think_tag}>\n<{self.move_tag}>{move}</{self.move_tag}>"


def system_prompt(renderer: Renderer, answer: AnswerFormat) -> str:
    """The system turn: which game, its rules and the answer format."""
    return f"You are playing {renderer.title}. {renderer.rules()} {answer.instructions(renderer.move_noun)}"


def turn_prompt(game: Game[Any], renderer: Renderer, state: Any) -> str:
    """The user turn shown to the player to move in `state`: the board, their symbol and the legal moves."""
    status = turn_status(renderer.symbol(game.to_move(state)), game.legal_moves(state))
    return prompt_text(renderer.render(state), status)


def chat_messages(game: Game[Any], renderer: Renderer, answer: AnswerFormat, state: Any) -> list[dict[str, str]]:
    """The chat (system, user) shown to the player to move in `state`: what the env shows an agent, and what a
    model opponent sees."""
    return [
        {"role": "system", "content": system_prompt(renderer, answer)},
        {"role": "user", "content": turn_prompt(game, renderer, state)},
    ]


@dataclass(frozen=True)
class ParsedAnswer:
    """What a completion said. `move` is None when no move could be read; `error` then says why."""

    format_ok: bool
    format_error: str | None
    think: str | None
    move: int | None
    error_kind: Literal["format", "unparseable"] | None
    error: str | None

    def require_move(self) -> int:
        if self.move is None:
            raise InvalidMoveError(self.error or "no move")
        return self.move


_DIGITS = re.compile(r"[+]?(\d+)", re.ASCII)
_FIRST_INT = re.compile(r"-?\d+", re.ASCII)
_MAX_DIGITS = 18  # fits numpy's int64 boards; never int() a megabyte of digits


def _read_number(content: str, lenient: bool) -> tuple[int | None, str | None]:
    stripped = content.strip()
    if lenient:
        found = _FIRST_INT.search(stripped)
        token = found.group(0) if found else None
    else:
        found = _DIGITS.fullmatch(stripped)
        token = found.group(1) if found else None
    if token is None:
        return None, f"move {clip(content)} is not a whole number"
    if len(token.lstrip("-")) > _MAX_DIGITS:
        return None, f"move {clip(token)} has more than {_MAX_DIGITS} digits: no board has that many cells"
    return int(token), None  # off the board or not, the rules say (and name the number)


def parse_answer(text: str, fmt: AnswerFormat) -> ParsedAnswer:
    """Read a completion. Never raises: problems are reported in the result.

    Uses plain substring search, not a backtracking regex, so adversarial megabyte inputs stay linear.
    """
    if not isinstance(text, str):
        text = str(text)
    ot, ct = f"<{fmt.think_tag}>", f"</{fmt.think_tag}>"
    om, cm = f"<{fmt.move_tag}>", f"</{fmt.move_tag}>"
    counts = {tag: text.count(tag) for tag in (ot, ct, om, cm)}

    format_error = None
    body = text.strip()
    if any(c == 0 for c in counts.values()):
        missing = [tag for tag, c in counts.items() if c == 0]
        format_error = "missing " + ", ".join(missing)
    elif any(c > 1 for c in counts.values()):
        format_error = "repeated " + ", ".join(tag for tag, c in counts.items() if c > 1)
    elif not body.startswith(ot):
        format_error = f"text before {ot}"
    elif not body.endswith(cm):
        format_error = f"text after {cm}"
    elif not (body.index(ct) < body.index(om)) or body[body.index(ct) + len(ct) : body.index(om)].strip():
        format_error = f"{ct} must be followed by {om} with only whitespace between"
    format_ok = format_error is None

    think = None
    start = text.find(ot)
    if start >= 0:
        end = text.find(ct, start + len(ot))
        if end >= 0:
            think = text[start + len(ot) : end]

    if fmt.mode == "strict" and not format_ok:
        return ParsedAnswer(False, format_error, think, None, "format", f"format error: {format_error}")

    open_at = text.rfind(om)
    close_at = text.find(cm, open_at + len(om)) if open_at >= 0 else -1
    if open_at < 0 or close_at < 0:
        return ParsedAnswer(format_ok, format_error, think, None, "format", f"format error: no {om}N{cm} found")
    move, error = _read_number(text[open_at + len(om) : close_at], lenient=fmt.mode == "lenient")
    if move is None:
        return ParsedAnswer(format_ok, format_error, think, None, "unparseable", error)
    return ParsedAnswer(format_ok, format_error, think, move, None, None)


# -- many answers at once --------------------------------------------------------------------------------------

_WS = r"[ \t\n\r\x0b\x0c]*"  # ASCII whitespace only: all of it is whitespace to str.strip() too
_DIGITS_GROUP = itemgetter(2)


@lru_cache(maxsize=16)
def _well_formed(think_tag: str, move_tag: str) -> re.Pattern[str]:
    """The strict shape `<think>...</think> <move>N</move>` with no '<' inside the thought and N of 1-18 digits.

    `parse_answer` reads every text this matches, in either mode, as well formatted with move N: each tag occurs
    exactly once, because '<' occurs only where the four tags start. Thought: group 1; digits: group 2.
    """
    t, m = re.escape(think_tag), re.escape(move_tag)
    digits = rf"\+?([0-9]{{1,{_MAX_DIGITS}}})"
    return re.compile(rf"{_WS}<{t}>([^<]*)</{t}>{_WS}<{m}>{_WS}{digits}{_WS}</{m}>{_WS}")


@dataclass(frozen=True)
class AnswerBatch:
    """What many completions said, as arrays: `moves[i]` is meaningful where `has_move[i]`.

    `parsed(i)` is the `ParsedAnswer` that `parse_answer` gives for completion i.
    """

    moves: np.ndarray  # int64
    has_move: np.ndarray  # bool
    format_ok: np.ndarray  # bool
    well_formed: list[re.Match[str] | None]  # the fast path's match, None where parse_answer read the text
    others: dict[int, ParsedAnswer]

    def parsed(self, i: int) -> ParsedAnswer:
        match = self.well_formed[i]
        if match is None:
            return self.others[i]
        return ParsedAnswer(True, None, match[1], int(match[2]), None, None)


def parse_answers(texts: Sequence[str], fmt: AnswerFormat) -> AnswerBatch:
    """`parse_answer` for many completions, with the same result for each (`AnswerBatch.parsed`).

    Well-formed answers, the common case, are read by one compiled pattern; any other text goes through
    `parse_answer`, so the two can only differ if the pattern accepted a text `parse_answer` would not.
    """
    pattern = _well_formed(fmt.think_tag, fmt.move_tag)
    try:
        matches = list(map(pattern.fullmatch, texts))
    except TypeError:  # not all str: read as parse_answer reads them
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        matches = list(map(pattern.fullmatch, texts))
    n = len(matches)
    has_move = np.ones(n, dtype=bool)
    format_ok = np.ones(n, dtype=bool)
    others: dict[int, ParsedAnswer] = {}
    if None not in matches:
        moves = np.fromiter(map(int, map(_DIGITS_GROUP, matches)), dtype=np.int64, count=n)
        return AnswerBatch(moves, has_move, format_ok, matches, others)
    moves = np.zeros(n, dtype=np.int64)
    for i, match in enumerate(matches):
        if match is not None:
            moves[i] = int(match[2])
            continue
        parsed = others[i] = parse_answer(texts[i], fmt)
        format_ok[i] = parsed.format_ok
        has_move[i] = parsed.move is not None
        moves[i] = 0 if parsed.move is None else parsed.move
    return AnswerBatch(moves, has_move, format_ok, matches, others)
