"""Evaluation context: each move alone, or the whole game so far as a chat (as training plays)."""

from __future__ import annotations

from recorder import Recorder

from arena.evaluation import evaluate


def test_turn_context_shows_only_the_current_prompt():
    player = Recorder()
    evaluate(player, tiers=["random"], games_per_tier=4, move_quality=False)
    assert {len(m) for m in player.seen} == {2}


def test_game_context_shows_the_game_so_far():
    player = Recorder()
    evaluate(player, tiers=["random"], games_per_tier=4, move_quality=False, context="game")
    lengths = sorted({len(m) for m in player.seen})
    assert lengths[0] == 2 and lengths[-1] >= 6  # system + (user, assistant) per earlier move + the current user
    later = next(m for m in player.seen if len(m) == 4)
    assert [m["role"] for m in later] == ["system", "user", "assistant", "user"]
    assert later[2]["content"].startswith("<think>x</think><move>")
