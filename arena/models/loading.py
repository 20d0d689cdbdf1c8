"""Loading a model to play or train: a checkpoint folder, a training run (its latest checkpoint), a LoRA adapter
(merged into its base), an installed catalog model or a hub id.

Players, model opponents and training all load through `load_pretrained`, so a path means the same model to each.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from arena.errors import ArenaError, MissingExtraError

ADAPTER_CONFIG = "adapter_config.json"
RUN_CONFIG = "config.yaml"  # a training run's config, in its run directory
_CHECKPOINT = re.compile(r"checkpoint-[0-9]+")


def _merged_adapter(folder: str, dtype: Any) -> Any:
    """A peft adapter folder as one plain model: its base model (the path the adapter names) with the adapter
    merged in, so generation costs what the base model's does."""
    try:
        from peft import AutoPeftModelForCausalLM
    except ImportError as exc:
        raise MissingExtraError(f"{folder} holds a LoRA adapter; reading it needs peft: pip install peft") from exc
    return AutoPeftModelForCausalLM.from_pretrained(folder, dtype=dtype).merge_and_unload()


def missing_model_folder(name_or_path: str) -> bool:
    """True for a model name that can only be a local path (a hub id is 'name' or 'org/name') and is not there:
    said here, rather than left to the hub client's "Repo id must be in the form ..."."""
    looks_local = name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1 or "\\" in name_or_path
    return looks_local and not Path(name_or_path).expanduser().exists()


def checkpoints(run_dir: Path) -> list[Path]:
    """A training run's `checkpoint-N` folders, by step (the latest last)."""
    found = [p for p in run_dir.glob("checkpoint-*") if _CHECKPOINT.fullmatch(p.name) and p.is_dir()]
    return sorted(found, key=lambda p: int(p.name[len("checkpoint-") :]))


def run_config(path: str | Path) -> Path | None:
    """The `config.yaml` of the training run a model folder comes from: the run directory itself, or the run of its
    checkpoint-N, final/ or warmup/ folder. None for a folder outside a run (or a hub id)."""
    folder = Path(path).expanduser()
    if (folder / RUN_CONFIG).is_file():
        return folder / RUN_CONFIG
    if _CHECKPOINT.fullmatch(folder.name) or folder.name in ("final", "warmup"):
        run = folder.parent / RUN_CONFIG
        return run if run.is_file() else None
    return None


def resolve_checkpoint(path: str) -> str:
    """`path` itself, the folder of an installed catalog model ('smollm2-135m'), or for a training run directory
    without a config.json, its latest `checkpoint-N`."""
    from arena.models.catalog import resolve_model

    path = resolve_model(path)
    if missing_model_folder(path):
        raise ArenaError(
            f"no such model folder {path!r}; pass the folder of a saved model (with its config.json), a training "
            "run directory, or a Hugging Face id like 'org/name'"
        )
    p = Path(path)
    if p.is_dir() and not (p / "config.json").exists() and not (p / ADAPTER_CONFIG).exists():
        found = checkpoints(p)
        if not found:
            raise ArenaError(f"{path!r} has no config.json and no checkpoint-N directory: not a model checkpoint")
        return str(found[-1])
    return path


def load_pretrained(
    path: str, *, device: str | None = "auto", dtype: str = "auto", trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """A model (in eval mode) and its tokenizer from a local path (a checkpoint; a run directory: its latest
    checkpoint-N; a LoRA adapter: merged into its base), an installed catalog model or a hub id.

    `device` "auto" is the GPU when there is one, else the CPU; None leaves the model where it loaded (training
    places it). `dtype` is "auto" or a torch dtype's name ("bfloat16"). `trust_remote_code` runs a hub model's own
    code; it is off unless asked.
    """
    resolved = resolve_checkpoint(path)
    torch, transformers = _train_extra()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(resolved, trust_remote_code=trust_remote_code)
        if (Path(resolved) / ADAPTER_CONFIG).exists():  # a LoRA run's checkpoint or final: base + adapter
            model = _merged_adapter(resolved, torch_dtype)
        else:
            model = transformers.AutoModelForCausalLM.from_pretrained(
                resolved, dtype=torch_dtype, trust_remote_code=trust_remote_code
            )
    except OSError as exc:
        raise ArenaError(f"cannot load a model from {path!r}: {exc}") from exc
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer


def _train_extra() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingExtraError(f"loading a model needs the train extra: pip install 'arena[train]' ({exc})") from exc
    return torch, transformers
