"""`arena play` through stdin: the board is drawn, legal moves listed, bad input explained and asked again."""

from __future__ import annotations

import os
import subprocess
import sys

from rich.console import Console

from arena.evaluation.play import play_terminal


def _scripted(lines):
    it = iter(lines)

    def fake_input(prompt: str) -> str:
        print(prompt)
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return fake_input


def test_bad_input_is_explained_and_asked_again(capsys):
    # Against perfect play, trying every cell in turn always ends the game: taken cells are refused.
    lines = ["hello", "42", "-1"] + [str(c) for _ in range(5) for c in range(9)]
    result = play_terminal("tictactoe", "perfect", "first", 0, input_fn=_scripted(lines), console=Console(width=100))
    out = capsys.readouterr().out
    assert result in ("draw", "loss")
    assert "'hello' is not a number" in out
    assert "Not allowed: illegal move 42" in out
    assert "already taken" in out
    assert "Your cell (0 1 2 3 4 5 6 7 8):" in out
    assert "0 1 2\n3 4 5\n6 7 8" in out


def test_quit_and_end_of_input(capsys):
    assert play_terminal("tictactoe", "random", "second", 0, input_fn=_scripted(["q"])) == "quit"
    assert play_terminal("connect_four", "random", "first", 0, input_fn=_scripted([])) == "quit"
    assert "No more input" in capsys.readouterr().out


def test_cli_play_via_stdin():
    stdin = "\n".join(["x"] + [str(c) for _ in range(6) for c in range(7)]) + "\n"
    proc = subprocess.run(
        [sys.executable, "-m", "arena.cli", "play", "--game", "connect_four", "--opponent", "depth-1", "--seed", "3"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "100"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "0 1 2 3 4 5 6" in proc.stdout and "'x' is not a number" in proc.stdout
    assert any(s in proc.stdout for s in ("You win!", "Draw.", "depth-1 wins."))
