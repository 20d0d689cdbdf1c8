"""One reading of a training run's folder: its checkpoints and its config, for loading, resuming and evaluation."""

from __future__ import annotations

from arena.models.loading import checkpoints, run_config


def test_checkpoints_come_by_step_not_by_name(tmp_path):
    for name in ("checkpoint-100", "checkpoint-20", "checkpoint-5", "checkpoint-5-old", "checkpoint-x", "final"):
        (tmp_path / name).mkdir()
    (tmp_path / "checkpoint-7").write_text("a file, not a folder of a checkpoint")
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-20", "checkpoint-100"]
    assert checkpoints(tmp_path / "missing") == []


def test_the_run_config_of_a_model_folder(tmp_path):
    run = tmp_path / "run"
    for name in ("checkpoint-3", "final", "warmup", "other"):
        (run / name).mkdir(parents=True)
    assert run_config(run) is None  # no config.yaml yet
    (run / "config.yaml").write_text("game: tictactoe\n")
    for folder in (run, run / "checkpoint-3", run / "final", run / "warmup"):
        assert run_config(folder) == run / "config.yaml"
        assert run_config(str(folder)) == run / "config.yaml"
    assert run_config(run / "other") is None
    assert run_config("org/name") is None
