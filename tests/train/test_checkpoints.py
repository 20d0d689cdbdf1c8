"""Resume checks each checkpoint before using it: damaged ones are skipped, newest first, with the reason given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("safetensors")
torch = pytest.importorskip("torch")

from arena.errors import ArenaError  # noqa: E402
from arena.training.checkpoints import checkpoint_problem, newest_intact  # noqa: E402
from arena.training.job import _resume_point  # noqa: E402


def _checkpoint(run: Path, step: int) -> Path:
    from safetensors.torch import save_file

    path = run / f"checkpoint-{step}"
    path.mkdir(parents=True)
    save_file({"w": torch.zeros(64)}, path / "model.safetensors")
    torch.save({"state": {}}, path / "optimizer.pt")
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (path / "arena_state.json").write_text(json.dumps({"step": step}))
    return path


def _truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


DAMAGE = {
    "truncated weights": (
        lambda c: _truncate(c / "model.safetensors"),
        "model.safetensors is damaged (Error while deserializing header: incomplete metadata, file not fully covered)",
    ),
    "empty state": (
        lambda c: (c / "arena_state.json").write_text(""),
        "arena_state.json is damaged (Expecting value: line 1 column 1 (char 0))",
    ),
    "truncated state": (
        lambda c: (c / "arena_state.json").write_text('{"step": 4, "curr'),
        "arena_state.json is damaged (Unterminated string starting at: line 1 column 13 (char 12))",
    ),
    "unfinished save": (lambda c: (c / "arena_state.json").unlink(), "no arena_state.json: its save did not finish"),
    "truncated optimizer": (
        lambda c: _truncate(c / "optimizer.pt"),
        "optimizer.pt is damaged (File is not a zip file)",
    ),
    "no weights": (lambda c: (c / "model.safetensors").unlink(), "no model weights (*.safetensors)"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_newest_checkpoint_is_skipped_for_the_intact_one_before_it(tmp_path, damage):
    older, newest = _checkpoint(tmp_path, 2), _checkpoint(tmp_path, 10)  # 10 sorts after 2 as a number
    harm, reason = DAMAGE[damage]
    harm(newest)
    assert checkpoint_problem(older) is None
    assert newest_intact(tmp_path) == (older, [(newest, reason)])


def test_resume_says_what_it_skips_and_refuses_a_damaged_checkpoint_named_outright(tmp_path, capsys):
    older, newest = _checkpoint(tmp_path, 2), _checkpoint(tmp_path, 4)
    (newest / "arena_state.json").write_text("")
    assert _resume_point(tmp_path) == (tmp_path, older)
    assert "skipping checkpoint-4: arena_state.json is damaged (Expecting value: line 1 column 1 (char 0))" in (
        " ".join(capsys.readouterr().out.split())
    )
    with pytest.raises(ArenaError) as info:
        _resume_point(newest)
    assert str(info.value) == (
        f"--resume {newest}: cannot resume from this checkpoint (arena_state.json is damaged (Expecting value: line 1 "
        f"column 1 (char 0))); resume from {older} instead"
    )


def test_resume_without_an_intact_checkpoint_starts_over_in_the_run_directory(tmp_path, capsys):
    (tmp_path / "warmup").mkdir()
    (tmp_path / "warmup" / "config.json").write_text("{}")
    assert _resume_point(tmp_path) == (tmp_path, None)
    out = " ".join(capsys.readouterr().out.split())
    assert out == (
        f"no intact checkpoint in {tmp_path}: GRPO starts from step 0 in this run directory (its finished warm-up "
        "is reused)"
    )
    with pytest.raises(ArenaError, match="no such folder; pass a run directory or one of its checkpoint-N folders"):
        _resume_point(tmp_path / "missing")


def test_a_folder_named_like_a_checkpoint_is_not_resumed_from(tmp_path):
    _checkpoint(tmp_path, 9).rename(tmp_path / "checkpoint-9-old")  # set aside by hand: not step 9
    kept = _checkpoint(tmp_path, 3)
    assert newest_intact(tmp_path) == (kept, [])
