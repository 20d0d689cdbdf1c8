"""`board_layout`: one way of writing the board, chosen once, read alike by the env, the vector env, evaluation,
training's config, a model opponent and `arena play`."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from recorder import Recorder
from rich.console import Console

from arena.env import TextGameEnv
from arena.errors import ArenaError
from arena.evaluation import evaluate
from arena.evaluation.play import play_terminal
from arena.games import ConnectFourRenderer
from arena.games.registry import get_spec
from arena.vector import TextGameVectorEnv, random_legal

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
COLUMNS_START = "\n".join(f"{c} {'X' if c == 3 else '.'} . . . . ." for c in range(7))  # X has played column 3


def test_the_env_writes_every_prompt_in_the_layout_it_was_given():
    env = TextGameEnv(game="connect_four", opponent="random", board_layout="columns")
    prompt, info = env.reset(seed=0, options={"agent_seat": "second", "start": [3]})
    assert prompt.startswith(COLUMNS_START + "\nYou play O.")
    assert "from the bottom up" in env.system_prompt and info["messages"][1]["content"] == prompt
    renderer = ConnectFourRenderer(env.game, layout="columns")
    prompt, *_ = env.step("<think></think><move>3</move>")
    assert prompt.startswith(renderer.render(env.state)) and env.render() is None
    rows = TextGameEnv(game="connect_four", opponent="random", board_layout="rows")
    assert rows.turn_prompt(env.state) == TextGameEnv(game="connect_four").turn_prompt(env.state)


def test_a_layout_the_game_does_not_offer_is_refused_by_name():
    with pytest.raises(ArenaError, match="connect four boards are written as 'rows' or 'columns', not as 'spiral'"):
        TextGameEnv(game="connect_four", board_layout="spiral")
    with pytest.raises(ArenaError, match="tictactoe boards are written one way only; board_layout 'columns'"):
        TextGameEnv(game="tictactoe", board_layout="columns")
    spec = get_spec("tictactoe")
    assert spec.renderer(spec.game(), "rows").layout == "rows"  # its one layout, by name


@pytest.mark.parametrize("fast", [True, False])
def test_the_vector_env_writes_the_single_env_prompts_in_the_layout(fast):
    vec = TextGameVectorEnv("connect_four", num_envs=6, board_layout="columns", fast=fast)
    single = TextGameEnv("connect_four", board_layout="columns")
    rng = np.random.default_rng(0)
    vec.reset(seed=0)
    for _ in range(8):
        states = [vec.state(i) for i in range(vec.num_envs)]
        assert vec.prompts() == [single.turn_prompt(s) for s in states]
        assert vec.system_prompt == single.system_prompt
        vec.step([f"<think></think><move>{m}</move>" for m in random_legal(vec.legal_mask(), rng)])


def test_evaluation_shows_the_player_the_layout_and_checks_it_first():
    player = Recorder()
    report = evaluate(player, game="connect_four", tiers=["random"], games_per_tier=2, board_layout="columns")
    assert report.tier("random")["games"] == 2
    # A line a column: "<column> " and six cells, never the rows layout's header "0 1 2 3 4 5 6".
    lines = [turn.splitlines()[:7] for turn in player.prompts]
    assert lines and all(re.fullmatch(r"[0-6]( [.XO]){6}", line) for turn in lines for line in turn)
    with pytest.raises(ValueError, match="not as 'spiral'"):
        evaluate(Recorder(), game="connect_four", tiers=["random"], games_per_tier=2, board_layout="spiral")


def test_training_config_checks_the_layout_against_its_game():
    from arena.training.config import load_train_config

    config = load_train_config(CONFIGS / "connect4-tiny-cpu.yaml")
    assert config.env.board_layout == "columns"
    with pytest.raises(ArenaError, match="env.board_layout: tictactoe boards are written one way only"):
        load_train_config(CONFIGS / "tictactoe-tiny-cpu.yaml", {"env.board_layout": "columns"})


def test_a_model_opponent_and_the_terminal_game_use_the_layout(capsys):
    pytest.importorskip("transformers")
    from arena.models import build_tiny_model
    from opponents import ModelSpec
    from opponents.model import ModelOpponent

    game = get_spec("connect_four").game()
    model, tokenizer = build_tiny_model(game="connect_four")
    opponent = ModelOpponent(game, ModelSpec(path="tiny", board_layout="columns"), model=model, tokenizer=tokenizer)
    assert opponent.messages_for(game.play([3]))[1]["content"].startswith(COLUMNS_START)

    lines = iter(["q"])
    result = play_terminal(
        "connect_four", "random", "second", 0, input_fn=lambda _: next(lines), console=Console(width=100),
        board_layout="columns",
    )  # fmt: skip
    assert result == "quit"
    assert "from the bottom up" in capsys.readouterr().out


def test_arena_eval_takes_the_layout_and_names_a_wrong_one(tmp_path, capsys):
    from arena.cli import main

    base = ["eval", "--player", "depth-1", "--game", "connect_four", "--tiers", "random", "--games", "2"]
    assert main([*base, "--board-layout", "spiral", "--no-progress"]) == 2
    assert "not as 'spiral'" in capsys.readouterr().out
    out = tmp_path / "eval"
    assert main([*base, "--board-layout", "columns", "--no-progress", "--out", str(out), "--include-games"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["board_layout"] == "columns"
    prompt = report["games"][0]["transcript"][0]["prompt"]
    assert re.fullmatch(r"([0-6]( [.XO]){6}\n){7}You play [XO]\..*", prompt, flags=re.S)


def _fake_run(folder: Path, game: str, board_layout: str | None, rollout: str) -> Path:
    """A training run's folder as `arena eval` reads it: its config.yaml and a final/ model."""
    pytest.importorskip("transformers")
    from arena.models.tiny import save_tiny_model
    from arena.training.config import TrainConfig, config_to_yaml

    config = TrainConfig.model_validate(
        {"game": game, "env": {"board_layout": board_layout}, "grpo": {"rollout": rollout}}
    )
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(config_to_yaml(config))
    save_tiny_model(folder / "final", game=game)
    return folder


def test_arena_eval_shows_a_run_s_model_the_game_as_it_was_trained(tmp_path, capsys):
    from arena.cli import main

    run = _fake_run(tmp_path / "c4", "connect_four", "columns", "turn")
    base = ["eval", "--tiers", "random", "--games", "2", "--no-progress", "--max-new-tokens", "4"]
    out = tmp_path / "eval"
    assert main([*base, "--player", f"model:{run}/final", "--out", str(out)]) == 0
    assert "as trained" in capsys.readouterr().out
    config = json.loads((out / "report.json").read_text())["config"]
    assert (config["game"], config["board_layout"], config["context"]) == ("connect_four", "columns", "turn")
    # A flag wins over the run's own; the run directory itself and a checkpoint-N folder are read the same way.
    assert main([*base, "--player", f"model:{run}/final", "--board-layout", "rows", "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text())["config"]["board_layout"] == "rows"
    (run / "final").rename(run / "checkpoint-2")
    assert main([*base, "--player", f"model:{run}", "--out", str(out)]) == 0
    assert json.loads((out / "report.json").read_text())["config"]["board_layout"] == "columns"
    # 'game' rollouts: the player sees the whole game so far.
    whole = _fake_run(tmp_path / "ttt", "tictactoe", None, "game")
    assert main([*base, "--player", f"model:{whole}/final", "--out", str(out)]) == 0
    config = json.loads((out / "report.json").read_text())["config"]
    assert (config["game"], config["board_layout"], config["context"]) == ("tictactoe", None, "game")
    # Two players trained to see the game differently cannot share an evaluation, unless every flag is given.
    mixed = [
        *base,
        "--player",
        f"model:{run}",
        "--mix-with",
        f"model:{whole}/final",
        "--pass-k",
        "2",
        "--out",
        str(out),
    ]
    assert main(mixed) == 2
    assert "trained seeing the game differently" in capsys.readouterr().out
    given = ["--game", "tictactoe", "--board-layout", "rows", "--context", "turn"]
    assert main([*mixed, *given]) == 0


def test_arena_play_shows_the_game_as_a_model_opponent_was_trained(tmp_path, capsys, monkeypatch):
    from arena.cli import main

    run = _fake_run(tmp_path / "c4", "connect_four", "columns", "turn")
    monkeypatch.setattr("sys.stdin", io.StringIO("q\n"))
    assert main(["play", "--opponent", f"model:{run}/final", "--seat", "first"]) == 1  # quit at the first move
    out = capsys.readouterr().out
    assert "as trained" in out and "connect_four" in out
    assert re.search(r"([0-6]( \.){6}\n){7}", out)  # seven columns, a line each: the layout it was trained on
    monkeypatch.setattr("sys.stdin", io.StringIO("q\n"))
    assert main(["play", "--opponent", f"model:{run}/final", "--board-layout", "rows"]) == 1
    assert not re.search(r"([0-6]( \.){6}\n){7}", capsys.readouterr().out)  # a flag wins over the run's own
