"""`game_kwargs`: a game built with arguments (a smaller connect four) is played with them in evaluation as in
training: `evaluate`, the training job's own evaluation and `arena eval` of a run's model."""

from __future__ import annotations

import json
import re

import pytest
from recorder import Recorder

from arena.evaluation import EvalConfig, evaluate

SMALL = {"rows": 4, "columns": 5}
SMALL_BOARD = re.compile(r"0 1 2 3 4\n([.XO]( [.XO]){4}\n){4}You play [XO]\.")  # rows layout: header, 4 rows


def test_evaluation_plays_the_board_the_arguments_build():
    player = Recorder()
    report = evaluate(player, game="connect_four", tiers=["random", "depth-1"], games_per_tier=4, game_kwargs=SMALL)
    assert [report.tier(t)["games"] for t in ("random", "depth-1")] == [4, 4]
    assert player.prompts and all(SMALL_BOARD.match(turn) for turn in player.prompts)
    # The documented ratings are the 6x7 board's: another board is anchored by `random` alone.
    assert report.rating["anchors"] == {"random": 0.0}
    assert evaluate(Recorder(), game="connect_four", tiers=["random", "depth-1"], games_per_tier=2).rating[
        "anchors"
    ] == {"random": 0.0, "depth-1": 555.0}


def test_arguments_the_game_does_not_take_are_refused_by_name():
    with pytest.raises(ValueError, match=r"game_kwargs \{'width': 5\} do not build connect_four"):
        EvalConfig(game="connect_four", game_kwargs={"width": 5})
    with pytest.raises(ValueError, match="game_kwargs .* do not build connect_four: connect length 9 cannot fit"):
        EvalConfig(game="connect_four", game_kwargs={"connect": 9})


def test_the_training_job_evaluates_on_its_own_board():
    pytest.importorskip("transformers")
    from arena.models import build_tiny_model
    from arena.training.config import TrainConfig
    from arena.training.job import evaluate_model

    config = TrainConfig.model_validate(
        {"game": "connect_four", "game_kwargs": SMALL, "eval": {"tiers": ["random"]}, "grpo": {"max_new_tokens": 4}}
    )
    model, tokenizer = build_tiny_model(game="connect_four")
    report = evaluate_model(model, tokenizer, config, games=2, seed=0, progress=False)
    assert report.config.game_kwargs == SMALL and report.tier("random")["games"] == 2


def test_arena_eval_takes_the_arguments_from_the_run_or_the_flag(tmp_path, capsys):
    pytest.importorskip("transformers")
    from arena.cli import main
    from arena.models.tiny import save_tiny_model
    from arena.training.config import TrainConfig, config_to_yaml

    run = tmp_path / "run"
    run.mkdir()
    config = TrainConfig.model_validate({"game": "connect_four", "game_kwargs": SMALL, "grpo": {"rollout": "turn"}})
    (run / "config.yaml").write_text(config_to_yaml(config))
    save_tiny_model(run / "final", game="connect_four")
    base = ["eval", "--tiers", "random", "--games", "2", "--no-progress", "--max-new-tokens", "4", "--include-games"]
    out = tmp_path / "eval"
    assert main([*base, "--player", f"model:{run}/final", "--out", str(out)]) == 0
    assert "game kwargs {'rows': 4, 'columns': 5}" in " ".join(capsys.readouterr().out.split())
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["game_kwargs"] == SMALL
    assert SMALL_BOARD.match(report["games"][0]["transcript"][0]["prompt"])
    # The flag wins; it is read as YAML or JSON, and anything but a mapping is refused by name.
    assert main([*base, "--player", f"model:{run}/final", "--out", str(out), "--game-kwargs", '{"rows": 5}']) == 0
    assert json.loads((out / "report.json").read_text())["config"]["game_kwargs"] == {"rows": 5}
    assert main([*base, "--player", "random", "--game", "connect_four", "--game-kwargs", "[5]"]) == 2
    said = " ".join(capsys.readouterr().out.split())
    assert "--game-kwargs: expected a mapping such as '{rows: 5, columns: 6}', got '[5]'" in said
    assert main([*base, "--player", "random", "--game", "connect_four", "--game-kwargs", "{rows: 0}"]) == 2
    assert "game_kwargs {'rows': 0} do not build connect_four" in " ".join(capsys.readouterr().out.split())


def test_the_terminal_game_plays_the_board_the_arguments_build(capsys):
    from rich.console import Console

    from arena.errors import ArenaError
    from arena.evaluation.play import play_terminal

    answers = iter(["q"])
    result = play_terminal(
        "connect_four", "random", "second", 0, input_fn=lambda _: next(answers), console=Console(width=100),
        game_kwargs=SMALL,
    )  # fmt: skip
    assert result == "quit" and "a board of 4 rows and 5 columns" in capsys.readouterr().out
    with pytest.raises(ArenaError, match=r"game_kwargs \{'rows': 0\} do not build connect_four"):
        play_terminal("connect_four", "random", "first", 0, input_fn=lambda _: "q", game_kwargs={"rows": 0})


def test_a_training_config_refuses_arguments_that_build_no_game():
    from arena.errors import ArenaError, GameConfigError
    from arena.games.registry import get_spec
    from arena.training.config import load_train_config

    with pytest.raises(ArenaError, match=r"game_kwargs \{'width': 5\} do not build connect_four: .*'width'"):
        load_train_config(None, {"game": "connect_four", "game_kwargs": {"width": 5}})
    with pytest.raises(ArenaError, match="do not build connect_four: connect length 9 cannot fit"):
        load_train_config(None, {"game": "connect_four", "game_kwargs": {"connect": 9}})
    assert load_train_config(None, {"game": "connect_four", "game_kwargs": SMALL}).game_kwargs == SMALL
    with pytest.raises(GameConfigError, match=r"game_kwargs \{'rows': 0\} do not build connect_four"):
        get_spec("connect_four").game(rows=0)
