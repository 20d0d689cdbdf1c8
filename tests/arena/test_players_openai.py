"""The OpenAI-compatible player against real HTTP servers on loopback: the tiny model served by
`transformers serve` and by a small http.server, one that fails then recovers, one that stalls."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from loopback import LoopbackServer as _Server
from loopback import QuietHandler, transformers_serve
from loopback import completion as _completion

from arena.env import TextGameEnv
from arena.evaluation import EndpointError, OpenAIPlayer, Turn, evaluate

SECRET = "sk-test-do-not-leak-0123456789"


def _turns(n: int = 2) -> list[Turn]:
    env = TextGameEnv()
    _, info = env.reset(seed=0)
    return [Turn(info["messages"], env.state, tuple(info["legal_moves"]), np.random.default_rng(i)) for i in range(n)]


def test_retries_server_errors_then_succeeds(monkeypatch):
    seen: list[tuple[str | None, dict]] = []

    class Flaky(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.headers.get("Authorization"), body))
            if len(seen) <= 2:
                self.reply(500, {"error": "overloaded"})
            else:  # reasoning split out, as vLLM's reasoning parser and transformers serve do
                self.reply(200, _completion("<move>4</move>", reasoning="centre"))

    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    server = _Server(Flaky)
    try:
        player = OpenAIPlayer(server.url, "m", api_key_env="ARENA_TEST_KEY", retries=3, backoff=0.01, concurrency=1)
        assert player.act(_turns(1)) == ["<think>centre</think>\n<move>4</move>"]
        assert player.requests == 3 and player.failures == 2
        assert all(auth == f"Bearer {SECRET}" for auth, _ in seen)
        assert "Legal moves:" in seen[0][1]["messages"][1]["content"]
        assert SECRET not in repr(player)
        player.close()
    finally:
        server.close()


def test_gives_up_after_retries_without_leaking_the_key(monkeypatch):
    class Broken(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.reply(503, {"error": f"echoing {self.headers.get('Authorization')}"})

    monkeypatch.setenv("ARENA_TEST_KEY", SECRET)
    server = _Server(Broken)
    try:
        player = OpenAIPlayer(server.url, "m", api_key_env="ARENA_TEST_KEY", retries=2, backoff=0.0)
        with pytest.raises(EndpointError, match="HTTP 503") as info:
            player.act(_turns(1))
        assert SECRET not in str(info.value) and player.requests == 3
    finally:
        server.close()


def test_client_error_is_not_retried():
    class BadRequest(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.reply(404, {"error": "no such model"})

    server = _Server(BadRequest)
    try:
        player = OpenAIPlayer(server.url, "nope", retries=3, backoff=0.0)
        with pytest.raises(EndpointError, match="HTTP 404"):
            player.act(_turns(1))
        assert player.requests == 1
    finally:
        server.close()


def test_stalling_server_times_out():
    release = threading.Event()

    class Stall(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            release.wait(5)
            self.reply(200, _completion("<think></think><move>0</move>"))

    server = _Server(Stall)
    try:
        player = OpenAIPlayer(server.url, "m", timeout=0.3, retries=1, backoff=0.0, concurrency=2)
        started = time.perf_counter()
        with pytest.raises(EndpointError, match="timed out"):
            player.act(_turns(2))
        assert time.perf_counter() - started < 3
        player.close()
    finally:
        release.set()
        server.close()


def test_rejects_bad_settings():
    from arena.errors import ArenaError

    with pytest.raises(ArenaError, match="http"):
        OpenAIPlayer("localhost:8000", "m")
    with pytest.raises(ArenaError, match="concurrency"):
        OpenAIPlayer("http://localhost:8000/v1", "m", concurrency=0)


# -- the embedded tiny model behind real servers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from arena.models import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_tiny_model_behind_a_python_http_server(tiny_path):
    """A small real server (http.server + transformers) so this runs even without the serving extra."""
    from arena.evaluation import HFPlayer

    model_player = HFPlayer.from_pretrained(str(tiny_path), device="cpu", max_new_tokens=8)
    lock = threading.Lock()

    class TinyChat(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            rng = np.random.default_rng(body.get("seed", 0))
            with lock:  # one generation at a time; requests still arrive concurrently
                text = model_player.act([Turn(body["messages"], None, (), rng)])[0]
            self.reply(200, _completion(text))

    server = _Server(TinyChat)
    try:
        options = {"base_url": server.url, "concurrency": 4, "max_new_tokens": 8}
        report = evaluate(f"openai:{tiny_path}", tiers=["random"], games_per_tier=4, seed=0, player_options=options)
        entry = report.tier("random")
        assert entry["games"] == 4 and entry["format_error_rate"] == 1.0  # untrained: garbage, but played
    finally:
        server.close()


@pytest.mark.slow
def test_tiny_model_behind_transformers_serve(tiny_path):
    for module in ("fastapi", "uvicorn", "openai"):
        pytest.importorskip(module, reason="transformers serve needs the serving packages (dev extra)")
    with transformers_serve(tiny_path, timeout=120) as base_url:
        options = {"base_url": base_url, "concurrency": 2, "max_new_tokens": 8, "timeout": 60}
        report = evaluate(f"openai:{tiny_path}", tiers=["random"], games_per_tier=2, seed=0, player_options=options)
        assert report.tier("random")["games"] == 2
        assert report.player == f"openai:{tiny_path}"
