"""Rendering and answer parsing, apart from the rules."""

from __future__ import annotations

import pickle
import re

import pytest

from arena.errors import ArenaError
from arena.games import ConnectFour, ConnectFourRenderer, TicTacToe, TicTacToeRenderer
from arena.text import AnswerFormat, parse_answer

STRICT = AnswerFormat()
LENIENT = AnswerFormat(mode="lenient")


def test_tictactoe_rendering_shows_free_cell_numbers():
    game = TicTacToe()
    assert TicTacToeRenderer(game).render(game.play([4, 0])) == "O 1 2\n3 X 5\n6 7 8"


def test_connect_four_rendering_has_column_header_and_top_row_first():
    game = ConnectFour()
    text = ConnectFourRenderer(game).render(game.play([3, 3, 0]))
    lines = text.splitlines()
    assert lines[0] == "0 1 2 3 4 5 6"
    assert lines[-1] == "X . . X . . ." and lines[-2] == ". . . O . . ."
    assert len(lines) == 7


def test_connect_four_columns_layout_writes_a_line_a_column_from_the_bottom():
    game = ConnectFour()
    renderer = ConnectFourRenderer(game, layout="columns")
    # X in 3 and 4, O on top of X in 3 and in 0.
    lines = renderer.render(game.play([3, 3, 4, 0])).splitlines()
    assert lines == ["0 O . . . . .", "1 . . . . . .", "2 . . . . . .", "3 X O . . . .", "4 X . . . . .",
                     "5 . . . . . .", "6 . . . . . ."]  # fmt: skip
    full = renderer.render(game.play([2] * 6)).splitlines()
    assert full[2] == "2 X O X O X O" and "." not in full[2]
    assert "from the bottom up" in renderer.rules() and "bottom" not in ConnectFourRenderer(game).rules()
    assert ConnectFourRenderer(game).layout == "rows"
    clone = pickle.loads(pickle.dumps(renderer))
    assert clone.layout == "columns" and clone.render(game.play([0])) == renderer.render(game.play([0]))


def test_an_unknown_board_layout_names_the_ones_offered():
    with pytest.raises(ArenaError, match="connect four boards are written as 'rows' or 'columns', not as 'diagonal'"):
        ConnectFourRenderer(ConnectFour(), layout="diagonal")
    with pytest.raises(ArenaError, match="'rows', not as 'columns'"):
        TicTacToeRenderer(TicTacToe(), layout="columns")


@pytest.mark.parametrize(
    "text",
    [
        "<think>centre</think><move>4</move>",
        "  <think>\nx\n</think>\n\n<move> 4 </move>\n",
        "<think></think><move>+4</move>",
    ],
)
def test_strict_accepts_well_formed(text):
    parsed = parse_answer(text, STRICT)
    assert parsed.format_ok and parsed.move == 4 and parsed.error is None


@pytest.mark.parametrize(
    ("text", "kind", "match"),
    [
        ("4", "format", "missing"),
        ("<move>4</move>", "format", "missing <think>"),
        ("<think>a</think>", "format", "missing <move>"),
        ("<think>a</think><move>4</move> thanks", "format", "text after"),
        ("hi <think>a</think><move>4</move>", "format", "text before"),
        ("<think>a</think><think>b</think><move>4</move>", "format", "repeated"),
        ("<think>a</think> so <move>4</move>", "format", "only whitespace"),
        ("<think>a<move>4</move></think>", "format", "text after|only whitespace"),
        ("<think>a</think><move>four</move>", "unparseable", "not a whole number"),
        ("<think>a</think><move>4.5</move>", "unparseable", "not a whole number"),
        ("<think>a</think><move>\u0663</move>", "unparseable", "not a whole number"),  # Arabic-Indic three
        ("<think>a</think><move></move>", "unparseable", "not a whole number"),
    ],
)
def test_strict_rejections_are_classified(text, kind, match):
    parsed = parse_answer(text, STRICT)
    assert parsed.move is None and parsed.error_kind == kind
    assert re.search(match, parsed.error or "")


def test_lenient_reads_last_move_and_first_integer_but_flags_format():
    parsed = parse_answer("I pick <move>1</move> no wait <move>column 5 please</move>", LENIENT)
    assert parsed.move == 5 and not parsed.format_ok and parsed.error_kind is None
    assert parse_answer("<think>x</think><move>-2</move>", LENIENT).move == -2  # the rules call it illegal
    assert parse_answer("no tags at all", LENIENT).error_kind == "format"


def test_huge_numbers_do_not_explode():
    parsed = parse_answer("<think>a</think><move>" + "9" * 100_000 + "</move>", STRICT)
    assert parsed.move is None and parsed.error_kind == "unparseable"  # off every board, said without int()
    assert "has more than 18 digits: no board has that many cells" in parsed.error and len(parsed.error) < 200


def test_custom_tags_and_validation():
    fmt = AnswerFormat(think_tag="reasoning", move_tag="answer")
    assert parse_answer("<reasoning>r</reasoning><answer>2</answer>", fmt).move == 2
    assert fmt.example("r", 2) == "<reasoning>r</reasoning>\n<answer>2</answer>"
    with pytest.raises(ValueError, match="must differ"):
        AnswerFormat(think_tag="x", move_tag="x")
    with pytest.raises(ValueError, match="must be a letter"):
        AnswerFormat(move_tag="<move>")


def test_example_round_trips():
    assert parse_answer(STRICT.example("take the centre", 4), STRICT).move == 4


def test_require_move_raises_the_parse_error_as_an_invalid_move():
    from arena.errors import ArenaError, InvalidMoveError

    fmt = AnswerFormat()
    assert parse_answer("<think>x</think><move>4</move>", fmt).require_move() == 4
    parsed = parse_answer("no move here", fmt)
    with pytest.raises(InvalidMoveError, match="format error") as info:
        parsed.require_move()
    assert isinstance(info.value, ArenaError) and isinstance(info.value, ValueError)
    assert str(info.value) == parsed.error
