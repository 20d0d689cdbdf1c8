"""Evaluation keeps what the player said: every turn's prompt and completion, in the report and as JSONL."""

from __future__ import annotations

import json

from arena.cli import main
from arena.evaluation import evaluate
from arena.evaluation.players import Player


class EchoesTheBoard(Player):
    """Answers like SmolLM2 does zero-shot: the last line of the prompt, no tags."""

    name = "echo"

    def act(self, turns):
        return [t.messages[-1]["content"].splitlines()[-1] for t in turns]


class PlaysLowest(Player):
    name = "lowest"

    def act(self, turns):
        return [f"<think>lowest</think><move>{t.legal_moves[0]}</move>" for t in turns]


def test_a_games_transcript_holds_the_prompt_and_the_completion(tmp_path):
    report = evaluate(EchoesTheBoard(), tiers=["random"], games_per_tier=2, seed=3)
    for game in report.games:
        (turn,) = game.transcript  # the untagged answer forfeits at once
        assert turn["prompt"].endswith(turn["completion"]) and turn["completion"].startswith("You play")
        assert turn["invalid"] and turn["agent_move"] is None
    data = json.loads(report.save(tmp_path / "r.json", include_games=True).read_text())
    assert data["games"][0]["transcript"][0]["completion"] == report.games[0].transcript[0]["completion"]


def test_every_turn_is_recorded_with_its_move():
    report = evaluate(PlaysLowest(), tiers=["random"], games_per_tier=2, seed=0)
    for game in report.games:
        agent_moves = [t["agent_move"] for t in game.transcript]
        assert len(agent_moves) == game.agent_turns and all(m is not None for m in agent_moves)
        seat = 0 if game.seat == "first" else 1
        assert agent_moves == game.moves[seat::2]  # tic-tac-toe alternates: the agent's moves, in order
        assert all(
            t["completion"] == f"<think>lowest</think><move>{m}</move>"
            for t, m in zip(game.transcript, agent_moves, strict=True)
        )


def test_arena_eval_writes_transcripts_jsonl(tmp_path):
    out = tmp_path / "eval"
    assert (
        main(["eval", "--player", "depth-1", "--tiers", "random", "--games", "2", "--no-progress", "--out", str(out)])
        == 0
    )
    lines = [json.loads(line) for line in (out / "transcripts.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and {g["seat"] for g in lines} == {"first", "second"}
    for game in lines:
        assert game["transcript"] and all("<move>" in t["completion"] for t in game["transcript"])
