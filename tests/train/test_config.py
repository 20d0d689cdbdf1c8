"""Training config: presets validate, overrides apply, and bad values fail before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.errors import ArenaError
from arena.training.config import TrainConfig, apply_overrides, config_to_yaml, load_train_config

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))


def test_there_are_presets():
    names = {p.name for p in CONFIGS}
    assert {"tictactoe-tiny-cpu.yaml", "connect4-tiny-cpu.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_presets_validate_and_round_trip(path, monkeypatch, tmp_path):
    import importlib.util

    # The explorer preset names a main-job run the user replaces on the command line: give it one.
    for folder in ("warmup", "final"):
        (tmp_path / "runs" / "MAIN-JOB-RUN" / folder).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)

    real = importlib.util.find_spec
    # GPU presets name vLLM and peft; validation checks they are installed, so pretend they are.
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name in ("vllm", "peft") else real(name, *a)
    )
    # Presets may name a catalog model (smollm2-135m): validation checks it is installed, so pretend it is.
    monkeypatch.setattr("arena.models.catalog.is_installed", lambda name, root=None: True)
    config = load_train_config(path)
    assert TrainConfig.model_validate(__import__("yaml").safe_load(config_to_yaml(config))) == config


def test_overrides_are_typed_and_nested():
    config = load_train_config(None, ["--grpo.steps", "7", "--run.name", "x1", "--eval.tiers", "[random, depth-2]"])
    assert config.grpo.steps == 7 and config.run.name == "x1" and config.eval.tiers == ("random", "depth-2")
    config = load_train_config(None, ["--curriculum", "{kind: fixed, opponents: {perfect: 1}}"])
    assert config.curriculum.kind == "fixed"


def test_overrides_as_a_mapping_of_dotted_keys():
    curriculum = {"kind": "fixed", "opponents": {"perfect": 1}}
    config = load_train_config(None, {"grpo.steps": 7, "eval.tiers": ["random", "depth-2"], "curriculum": curriculum})
    assert config == load_train_config(
        None, ["--grpo.steps", "7", "--eval.tiers", "[random, depth-2]", "--curriculum", str(curriculum)]
    )
    # A section and a key inside it, in either order: the key refines the section; the caller's dict is untouched.
    for overrides in (
        {"curriculum.seat": "first", "curriculum": curriculum},
        {"curriculum": curriculum, "curriculum.seat": "first"},
    ):
        config = load_train_config(None, overrides)
        assert config.curriculum.seat == "first" and config.curriculum.kind == "fixed"
    assert curriculum == {"kind": "fixed", "opponents": {"perfect": 1}}
    with pytest.raises(ArenaError, match="grpo.stepz: Extra inputs are not permitted"):
        load_train_config(None, {"grpo.stepz": 3})
    with pytest.raises(ArenaError, match="not a string"):
        load_train_config(None, "--grpo.steps 3")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["--grpo.group_size", "1"], r"grpo.group_size: Input should be greater than or equal to 2"),
        (["--grpo.stepz", "3"], r"grpo.stepz: Extra inputs are not permitted"),
        (["--game", "chess"], r"unknown game 'chess'"),
        (["--eval.tiers", "[expert]"], r"unknown opponent tier 'expert'"),
        (["--curriculum", "{kind: fixed, opponents: {random: 0}}"], r"weights"),
        (["--curriculum", "{kind: shuffled}"], r"unknown curriculum kind 'shuffled'"),
        (["--exploration.schedule", "[{step: 5, temperature: 1}, {step: 2, temperature: 1}]"], "strictly increasing"),
        (["--grpo.vllm_mode", "server", "--grpo.use_vllm", "true"], "vllm"),
        (["--env.invalid_move", "explode"], r"env.invalid_move"),
        (
            ["--grpo.generate_ahead", "true", "--grpo.num_iterations", "2"],
            r"grpo.generate_ahead does not work with grpo.num_iterations=2.*set grpo.generate_ahead false",
        ),
        (
            ["--grpo.rollout", "game", "--grpo.max_prefix_plies", "6"],
            r"grpo.max_prefix_plies applies to turn rollouts .*: set grpo.rollout turn or unset it",
        ),
        (
            ["--grpo.vllm_server_base_url", "http://localhost:8000"],
            r"grpo.vllm_server_base_url is read in vLLM server mode only: set grpo.use_vllm true",
        ),
        (["--grpo.steps"], "has no value"),
        (["grpo.steps", "3"], "expected an override like --grpo.steps"),
    ],
)
def test_bad_configs_name_the_field_and_fix(overrides, match):
    with pytest.raises(ArenaError, match=match):
        load_train_config(None, overrides)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ArenaError, match="not found; presets live in configs/"):
        load_train_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ArenaError, match="must hold a mapping"):
        load_train_config(bad)


def test_override_into_a_value_is_refused():
    with pytest.raises(ArenaError, match="'game' is a value, not a section"):
        apply_overrides({"game": "tictactoe"}, ["--game.rows", "3"])


def test_malformed_yaml_names_the_file_the_line_and_the_fix(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("grpo:\n  steps: 3\n bad: 1\n")
    with pytest.raises(ArenaError) as info:
        load_train_config(path)
    assert str(info.value) == (
        f"config file {str(path)!r} is not valid YAML at line 3, column 2: while parsing a block mapping, expected "
        "<block end>, but found '<block mapping start>'; fix it there (the presets in configs/ show the layout)"
    )


def test_malformed_override_value_names_the_option_and_the_fix():
    with pytest.raises(ArenaError) as info:
        load_train_config(None, ["--grpo.steps", "[1,"])
    assert str(info.value) == (
        "override --grpo.steps: '[1,' is not a valid value (while parsing a flow node, "
        "expected the node content, but found '<stream end>'); write a number, true/false, a list like [1, 2] or a "
        """mapping like {a: 1}, or quote a string: --grpo.steps '"[1,"'"""
    )


def test_a_missing_model_folder_fails_in_the_config_not_at_the_hub(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ArenaError) as info:
        load_train_config(None, {"model.name_or_path": str(missing)})
    assert str(info.value) == (
        f"invalid training config:\n  model.name_or_path: no such folder {str(missing)!r}; pass the folder of a saved "
        f"model (with its config.json), a Hugging Face id like 'org/name', or 'tiny' (got {str(missing)!r})"
    )
    assert load_train_config(None, {"model.name_or_path": "org/name"}).model.name_or_path == "org/name"


def test_one_kept_checkpoint_is_refused():
    with pytest.raises(ArenaError, match=r"grpo.save_total_limit: Input should be greater than or equal to 2"):
        load_train_config(None, ["--grpo.save_total_limit", "1"])
