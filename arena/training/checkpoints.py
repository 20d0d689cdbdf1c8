"""Which checkpoint a resume may use: each is checked before use, and the newest intact one is chosen."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from arena.models.loading import checkpoints

from .grpo import STATE_FILE  # written last, atomically: a checkpoint without it was never finished


def checkpoint_problem(path: Path) -> str | None:
    """Why a resume cannot use `path`, or None when it is intact. Cheap: headers and indexes, not whole files."""
    if not (path / STATE_FILE).is_file():
        return f"no {STATE_FILE}: its save did not finish"
    for name in (STATE_FILE, "trainer_state.json"):
        problem = _json_problem(path / name)
        if problem is not None:
            return problem
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        return "no model weights (*.safetensors)"
    from safetensors import safe_open

    for file in weights:
        try:  # the header lists every tensor's byte range: a file cut short no longer covers them
            with safe_open(str(file), framework="numpy"):
                pass
        except Exception as exc:  # SafetensorError is not exported under a stable name
            return f"{file.name} is damaged ({exc})"
    for file in sorted([*path.glob("*.pt"), *path.glob("*.pth")]):  # torch.save files are zip archives
        try:
            with zipfile.ZipFile(file):
                pass
        except (OSError, zipfile.BadZipFile) as exc:
            return f"{file.name} is damaged ({exc})"
    return None


def _json_problem(file: Path) -> str | None:
    if not file.is_file():
        return f"no {file.name}"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{file.name} is damaged ({exc})"
    return None if isinstance(data, dict) else f"{file.name} is damaged (not a JSON object)"


def newest_intact(run_dir: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest intact checkpoint of a run (None if there is none), and the newer ones skipped, with why."""
    skipped: list[tuple[Path, str]] = []
    for path in reversed(checkpoints(run_dir)):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped
