"""Fault injection at the evaluation edges: chat servers on 127.0.0.1 that answer badly, cut a body short, break
the status line, trickle, or fail for good; bad flags, output places and model paths. Each ends in one clear
message, and an evaluation keeps its games."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import numpy as np
import pytest
from loopback import LoopbackServer, QuietHandler, completion

from arena.cli import main
from arena.env import TextGameEnv
from arena.evaluation import EndpointError, OpenAIPlayer, Player, Turn, evaluate

pytest.importorskip("openai")

SECRET = "sk-test-do-not-leak-0123456789"


def _turns(n: int = 1) -> list[Turn]:
    env = TextGameEnv()
    _, info = env.reset(seed=0)
    return [Turn(info["messages"], env.state, tuple(info["legal_moves"]), np.random.default_rng(i)) for i in range(n)]


def _answers_with(raw: bytes, *, length: int | None = None, content_type: str = "application/json") -> type:
    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.read_json()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw) if length is None else length))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


class _BadStatusLine(QuietHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.read_json()
        self.wfile.write(b"HTTP/1.1 OK\r\n\r\n")


FAULTS = {
    "no choices": (_answers_with(b'{"choices": []}'), "malformed response (no choices)"),
    "null message": (
        _answers_with(b'{"choices": [{"message": null}]}'),
        "malformed response (a choice without a message)",
    ),
    "not JSON": (
        _answers_with(b"<html>busy</html>", content_type="text/html"),
        "malformed response (not a chat completion)",
    ),
    "JSON, not an object": (_answers_with(b"[1, 2]"), "malformed response (not a chat completion)"),
    "body cut short": (
        _answers_with(b'{"choices": [{"mess', length=69),
        "connection failed (peer closed connection without sending complete message body "
        "(received 19 bytes, expected 69))",
    ),
    "bad status line": (_BadStatusLine, "connection failed (illegal status line: bytearray(b'HTTP/1.1 OK'))"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_malformed_answer_is_a_failed_request_retried_then_reported(fault):
    handler, reason = FAULTS[fault]
    with LoopbackServer(handler) as server, OpenAIPlayer(server.url, "m", retries=2, backoff=0.0) as player:
        with pytest.raises(EndpointError) as info:
            player.act(_turns(1))
        assert str(info.value) == (
            f"chat endpoint {server.url}/chat/completions (model 'm'): 1 of 1 requests failed; last: {reason}"
        )
        assert info.value.completions == [None]
        assert (player.requests, player.failures, player.failed_requests) == (3, 3, 1)


def test_timeout_bounds_a_whole_request_even_when_the_body_trickles():
    class Trickle(QuietHandler):  # one byte every 0.5 s: each read is quick, the whole answer takes ~40 s
        def do_POST(self) -> None:  # noqa: N802
            self.read_json()
            body = json.dumps(completion("<move>4</move>")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:  # the client gave up, as it should
                pass

    with LoopbackServer(Trickle) as server, OpenAIPlayer(server.url, "m", timeout=0.5, retries=1, backoff=0.0) as p:
        started = time.perf_counter()
        with pytest.raises(EndpointError, match=r"last: timed out after 0\.5 s$"):
            p.act(_turns(1))
        assert time.perf_counter() - started < 10  # two attempts of 0.5 s; room for a busy machine, not for 40 s


def test_some_requests_fail_the_others_arrive():
    class Picky(QuietHandler):  # fails the request of one game (seed parity), answers the other
        def do_POST(self) -> None:  # noqa: N802
            body = self.read_json()
            if body["seed"] == failing_seed:
                self.reply(200, {"choices": []})
            else:
                self.reply(200, completion("<move>4</move>"))

    turns = _turns(2)
    failing_seed = int(np.random.default_rng(1).integers(1 << 31))  # the second turn's seed, as act draws it
    with LoopbackServer(Picky) as server, OpenAIPlayer(server.url, "m", retries=1, backoff=0.0) as player:
        with pytest.raises(EndpointError, match="1 of 2 requests failed") as info:
            player.act(turns)
        assert info.value.completions == ["<move>4</move>", None]


def test_no_key_sends_no_authorization_and_never_another_services_key(monkeypatch):
    seen: list[str | None] = []

    class Echo(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.read_json()
            seen.append(self.headers.get("Authorization"))
            self.reply(200, completion("<move>4</move>"))

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # set, but not the variable this player is told to read
    monkeypatch.delenv("ARENA_UNSET_KEY", raising=False)
    with LoopbackServer(Echo) as server, OpenAIPlayer(server.url, "m", api_key_env="ARENA_UNSET_KEY") as player:
        assert player.act(_turns(1)) == ["<move>4</move>"]
    assert seen == [None]


class _Dropping(Player):
    """Answers with an illegal move (one request ends a game: forfeit); every request after `fail_after` fails."""

    name = "dropping"

    def __init__(self, fail_after: int) -> None:
        self.calls = 0
        self.fail_after = fail_after
        self.requests = self.failures = self.failed_requests = 0

    def act(self, turns: Sequence[Turn]) -> list[str]:
        self.calls += 1
        answers: list[str | None] = []
        for _ in turns:
            self.requests += 1
            if self.requests > self.fail_after:
                self.failures += 1
                self.failed_requests += 1
                answers.append(None)
            else:
                answers.append("<move>99</move>")
        if None in answers:
            raise EndpointError("endpoint down", answers)
        return [str(a) for a in answers]


def test_an_evaluation_keeps_finished_games_when_requests_fail_midway():
    player = _Dropping(fail_after=5)  # batches of 4: round one all answered, round two 1 of 4, then nothing
    report = evaluate(player, tiers=["random", "perfect"], games_per_tier=6, seed=0, batch_size=4, move_quality=False)
    assert [(t["tier"], t["games"], t["failed_games"]) for t in report.tiers] == [("random", 5, 1), ("perfect", 0, 6)]
    assert report.tier("random")["losses"] == 5  # the illegal move forfeits: five finished games, all kept
    assert report.failures == {
        "games": 12,
        "failed_games": 7,
        "stopped_early": True,
        "failed_requests": 7,
        "attempts": 12,
        "failed_attempts": 7,
        "error": "endpoint down",
    }
    assert report.failure_message() == (
        "7 of 12 games failed (stopped after a round in which every request failed); 7 requests failed after all "
        "retries (7 of 12 attempts failed); the report holds the 5 finished games. Last error: endpoint down"
    )
    assert player.calls == 3  # the third round failed whole: no fourth
    assert report.table() is not None and report.tier("perfect")["score"] is None


class _Flaky(QuietHandler):
    """Answers an illegal move (the game is forfeit after one request) for the first requests, then fails."""

    answered = 0
    limit = 3

    def do_POST(self) -> None:  # noqa: N802
        self.read_json()
        cls = type(self)
        if cls.answered < cls.limit:
            cls.answered += 1
            self.reply(200, completion("<move>99</move>"))
        else:
            self.reply(503, {"error": f"down; {self.headers.get('Authorization')}"})


@pytest.fixture
def wide_console(monkeypatch):
    """The CLI's console wide enough that no message is wrapped (paths here are long)."""
    from rich.console import Console

    monkeypatch.setattr("arena.cli.console", Console(width=1000))


def test_arena_eval_writes_the_partial_report_and_says_what_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    handler = type("Flaky", (_Flaky,), {"answered": 0})
    with LoopbackServer(handler) as server:
        argv = ["eval", "--player", "openai:m", "--base-url", server.url, "--api-key-env", "ARENA_TEST_KEY"]
        argv += ["--tiers", "random", "--games", "6", "--batch-size", "1", "--concurrency", "1", "--retries", "1"]
        argv += ["--backoff", "0", "--no-progress", "--no-move-quality", "--out", str(tmp_path)]
        code = main(argv)
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert code == 1
    assert (
        "incomplete evaluation: 3 of 6 games failed (stopped after a round in which every request failed); 1 "
        "requests failed after all retries (2 of 5 attempts failed); the report holds the 3 finished games. Last "
        f"error: chat endpoint {server.url}/chat/completions (model 'm'): 1 of 1 requests failed; last: HTTP 503 "
        "Service Unavailable"
    ) in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["tiers"][0]["games"] == 3 and report["tiers"][0]["failed_games"] == 3
    assert report["failures"]["failed_games"] == 3 and (tmp_path / "scores.png").is_file()
    assert SECRET not in out and SECRET not in (tmp_path / "report.json").read_text()


def test_arena_eval_checks_the_output_place_before_playing(tmp_path, capsys, wide_console):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["eval", "--player", "random", "--games", "2", "--no-progress", "--out", str(blocker / "eval")])
    out = capsys.readouterr().out.strip()
    assert code == 2
    assert out == (
        f"error: cannot write {blocker}/eval/report.json ({blocker} is not a directory): choose a writable place "
        "with --out"
    )


def test_arena_eval_speaks_of_flags(capsys, wide_console):
    assert main(["eval", "--player", "random", "--games", "0", "--no-progress"]) == 2
    out = capsys.readouterr().out.strip()
    assert out == "error: invalid evaluation options: --games: input should be greater than or equal to 1 (got 0)"


def test_arena_eval_names_a_missing_model_folder(tmp_path, capsys, wide_console):
    missing = tmp_path / "nope"
    assert main(["eval", "--player", f"model:{missing}", "--games", "2", "--out", str(tmp_path / "eval")]) == 2
    assert capsys.readouterr().out.strip() == (
        f"error: no such model folder {str(missing)!r}; pass the folder of a saved model (with its config.json), a "
        "training run directory, or a Hugging Face id like 'org/name'"
    )


def test_pass_k_leaves_out_problems_whose_games_failed():
    # Tier games: 2 requests; then the pass@k games, 2 problems x 2 samples, one request each (the illegal move
    # forfeits): two more are answered, the rest fail.
    player = _Dropping(fail_after=4)
    report = evaluate(
        player, tiers=["random"], games_per_tier=2, batch_size=1, move_quality=False, pass_k=(2,), pass_k_problems=2
    )
    entry = report.pass_at_k["tiers"][0]
    assert (entry["problems"], entry["incomplete_problems"]) == (1, 1)
    assert entry["pass_at_k"]["2"]["win"] == 0.0 and entry["games"] == 2
    assert report.failures["games"] == 6 and report.failures["failed_games"] == 2
