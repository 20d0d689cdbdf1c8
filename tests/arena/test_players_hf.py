"""The transformers player with the embedded tiny model: batched generation through the env, determinism."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("transformers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from arena.env import TextGameEnv  # noqa: E402
from arena.errors import ArenaError  # noqa: E402
from arena.evaluation import HFPlayer, Turn, evaluate  # noqa: E402
from arena.models import build_tiny_model, save_tiny_model  # noqa: E402
from arena.models.loading import resolve_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_model(seed=0)


def test_in_memory_model_evaluates_and_counts_errors(tiny):
    report = evaluate(
        tiny, tiers=["random"], games_per_tier=6, seed=0, invalid_move="random", player_options={"max_new_tokens": 12}
    )
    entry = report.tier("random")
    assert entry["games"] == 6 and entry["wins"] + entry["draws"] + entry["losses"] == 6
    # An untrained model writes garbage: every turn is a format error, and invalid moves are replaced.
    assert entry["format_error_rate"] == 1.0
    assert entry["invalid_move_rate"] > 0.5
    assert entry["seconds_per_move"] > 0


def test_same_seed_same_completions(tiny):
    model, tokenizer = tiny
    env = TextGameEnv()
    _, info = env.reset(seed=0)
    player = HFPlayer(model, tokenizer, max_new_tokens=10)

    def turns(seed):
        return [
            Turn(info["messages"], env.state, tuple(info["legal_moves"]), np.random.default_rng([seed, i]))
            for i in range(4)
        ]

    a, b, c = player.act(turns(1)), player.act(turns(1)), player.act(turns(2))
    assert a == b and a != c
    assert len(set(a)) > 1  # each game of the batch samples its own completion


def test_batch_matches_single_with_greedy_decoding(tiny):
    model, tokenizer = tiny
    env = TextGameEnv()
    messages = []
    for seed in range(3):
        _, info = env.reset(seed=seed, options={"agent_seat": ("first", "second")[seed % 2]})
        messages.append((info["messages"], env.state, tuple(info["legal_moves"])))
    player = HFPlayer(model, tokenizer, temperature=0.0, max_new_tokens=8)
    rng = np.random.default_rng(0)
    batched = player.act([Turn(m, s, legal, rng) for m, s, legal in messages])
    single = [player.act([Turn(m, s, legal, rng)])[0] for m, s, legal in messages]
    assert batched == single  # left padding does not change what the model writes


def test_checkpoint_directory_and_run_directory(tmp_path):
    run = tmp_path / "run"
    save_tiny_model(run / "checkpoint-5", seed=1)
    save_tiny_model(run / "checkpoint-20", seed=2)
    assert resolve_checkpoint(str(run)).endswith("checkpoint-20")
    options = {"max_new_tokens": 8}
    report = evaluate(f"model:{run}", tiers=["random"], games_per_tier=2, seed=0, player_options=options)
    assert report.player == f"model:{run}" and report.tier("random")["games"] == 2
    with pytest.raises(ArenaError, match="no config.json"):
        resolve_checkpoint(str(tmp_path))


def test_bad_sampling_settings(tiny):
    with pytest.raises(ArenaError, match="top_p"):
        HFPlayer(*tiny, top_p=0.0)


def test_training_loads_a_path_as_players_do(tmp_path):
    """One loader: a run directory trains from its latest checkpoint, in the dtype asked, and a model that cannot
    load names the config field."""
    import torch

    from arena.training.config import load_train_config
    from arena.training.grpo import load_model

    run = tmp_path / "run"
    save_tiny_model(run / "checkpoint-5", seed=1)
    save_tiny_model(run / "checkpoint-20", seed=2)
    config = load_train_config(None, {"model.name_or_path": str(run), "model.dtype": "bfloat16"})
    model, tokenizer = load_model(config)
    expected, _ = build_tiny_model(seed=2)
    assert model.dtype == torch.bfloat16 and tokenizer.chat_template
    assert torch.equal(model.model.embed_tokens.weight, expected.model.embed_tokens.weight.to(torch.bfloat16))
    missing = load_train_config(None, {"model.name_or_path": "org/not-downloaded"})
    with pytest.raises(ArenaError, match=r"model.name_or_path='org/not-downloaded': cannot load a model"):
        load_model(missing)
