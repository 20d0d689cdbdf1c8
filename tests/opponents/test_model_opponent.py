"""ModelOpponent: the env's prompt for any state, legal moves always, invalid answers replaced and counted."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("transformers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from arena.env import TextGameEnv  # noqa: E402
from arena.models import build_tiny_model, save_tiny_model  # noqa: E402
from opponents import ModelSpec, make_opponent  # noqa: E402
from opponents.model import ModelOpponent  # noqa: E402


@pytest.mark.parametrize("game", ["tictactoe", "connect_four"])
def test_messages_match_the_env(game):
    env = TextGameEnv(game=game, opponent="random")
    opponent = ModelOpponent(env.game, ModelSpec(path="tiny"))  # reads the rules and the text; no model loads
    for seed in range(30):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            assert env.messages_for(env.state) == info["messages"]
            assert opponent.messages_for(env.state) == info["messages"]
            move = int(np.random.default_rng(seed).choice(info["legal_moves"]))
            _, _, terminated, truncated, info = env.step(f"<think></think><move>{move}</move>")
            done = terminated or truncated


def test_untrained_model_plays_legal_moves_and_counts_invalid():
    model, tokenizer = build_tiny_model(seed=0)
    env = TextGameEnv(game="tictactoe")
    opponent = ModelOpponent(env.game, ModelSpec(path="tiny", max_new_tokens=8), model=model, tokenizer=tokenizer)
    rng = np.random.default_rng(0)
    state = env.game.initial_state()
    while not env.game.is_over(state):
        move = opponent.choose(state, rng)
        assert move in env.game.legal_moves(state)
        state = env.game.apply(state, move)
    assert opponent.moves_played >= 5 and opponent.invalid_moves == opponent.moves_played


def test_model_tier_in_the_env(tmp_path):
    path = save_tiny_model(tmp_path / "tiny")
    env = TextGameEnv(game="tictactoe", opponent={"kind": "model", "path": str(path), "max_new_tokens": 8})
    _, info = env.reset(seed=0, options={"agent_seat": "second"})
    assert info["opponent"] == f"model:{path}" and len(info["moves"]) == 1
    opponent = make_opponent(f"model:{path}", "tictactoe")
    assert isinstance(opponent, ModelOpponent)


def test_choose_many_answers_several_games_in_one_generation_and_alone_as_choose():
    model, tokenizer = build_tiny_model(seed=0)
    env = TextGameEnv(game="tictactoe")
    spec = ModelSpec(path="tiny", max_new_tokens=8)
    opponent = ModelOpponent(env.game, spec, model=model, tokenizer=tokenizer)
    states = [env.game.play(moves) for moves in ([], [4], [0, 8], [4, 0, 8])]
    calls = []
    reply = opponent.completions
    opponent.completions = lambda s, r: calls.append(len(s)) or reply(s, r)
    moves = opponent.choose_many(states, [np.random.default_rng(i) for i in range(4)])
    assert calls == [4] and opponent.moves_played == 4
    assert opponent.choose_many([], []) == [] and calls == [4]  # no games: no generation
    assert all(m in env.game.legal_moves(s) for m, s in zip(moves, states, strict=True))
    alone = ModelOpponent(env.game, spec, model=model, tokenizer=tokenizer)
    assert alone.choose_many(states[1:2], [np.random.default_rng(5)]) == [
        alone.choose(states[1], np.random.default_rng(5))
    ]


def test_an_evaluation_against_a_model_tier_loads_it_once_and_batches_its_moves(tmp_path, monkeypatch):
    from arena.evaluation import evaluate
    from arena.models import loading

    path = save_tiny_model(tmp_path / "tiny")
    loads = []
    load = loading.load_pretrained
    monkeypatch.setattr(loading, "load_pretrained", lambda *a, **k: loads.append(a) or load(*a, **k))
    calls = []
    choose_many = ModelOpponent.choose_many
    monkeypatch.setattr(
        ModelOpponent, "choose_many", lambda self, s, r: calls.append(len(s)) or choose_many(self, s, r)
    )
    report = evaluate("random", tiers=[f"model:{path}"], games_per_tier=8, seed=0, batch_size=8)
    assert len(report.games) == 8 and len(loads) == 1  # one opponent for every env of the tier
    assert max(calls) >= 4  # the games' replies chosen together
