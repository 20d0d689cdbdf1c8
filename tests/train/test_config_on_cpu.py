"""A preset's `on_cpu` values: they replace the file's when the run trains on a CPU, and overrides still win."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.errors import ArenaError
from arena.training.config import config_to_yaml, load_train_config

PRESET = Path(__file__).parents[2] / "configs" / "tictactoe-smollm2-135m.yaml"


@pytest.fixture
def preset_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "grpo: {steps: 400, group_size: 8}\nwarmup: {steps: 300}\non_cpu:\n  grpo: {steps: 12}\n  run: {name: short}\n"
    )
    return path


def test_on_cpu_values_replace_the_files_on_a_cpu_only(preset_file):
    cpu = load_train_config(preset_file, ["--run.device", "cpu"])
    assert (cpu.grpo.steps, cpu.grpo.group_size, cpu.warmup.steps, cpu.run.name) == (12, 8, 300, "short")
    gpu = load_train_config(preset_file, ["--run.device", "cuda"])
    assert (gpu.grpo.steps, gpu.run.name) == (400, "run")
    assert "on_cpu" not in config_to_yaml(cpu)  # the run's saved config holds the values it ran with


def test_auto_device_asks_torch(preset_file, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert load_train_config(preset_file).grpo.steps == 12
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert load_train_config(preset_file).grpo.steps == 400


def test_command_line_overrides_beat_on_cpu(preset_file):
    config = load_train_config(preset_file, ["--run.device", "cpu", "--grpo.steps", "3"])
    assert config.grpo.steps == 3 and config.run.name == "short"


def test_on_cpu_must_be_a_mapping(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("on_cpu: 12\n")
    with pytest.raises(ArenaError, match="on_cpu .* must be a mapping"):
        load_train_config(path)


def test_the_smollm2_preset_is_short_on_a_cpu_and_full_on_a_gpu(monkeypatch):
    monkeypatch.setattr("arena.models.catalog.is_installed", lambda name, root=None: True)
    cpu = load_train_config(PRESET, ["--run.device", "cpu"])
    gpu = load_train_config(PRESET, ["--run.device", "cuda"])
    assert cpu.model.name_or_path == gpu.model.name_or_path == "smollm2-135m"
    answers = [c.grpo.steps * c.grpo.group_size * c.grpo.groups_per_step for c in (cpu, gpu)]
    assert answers[0] * 100 < answers[1]
    assert cpu.warmup.steps < gpu.warmup.steps and cpu.eval.games_per_tier < gpu.eval.games_per_tier
    assert cpu.grpo.rollout == gpu.grpo.rollout and cpu.curriculum == gpu.curriculum  # the same recipe
