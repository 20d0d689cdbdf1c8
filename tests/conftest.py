"""Test settings shared by every test: no model hub, deterministic hypothesis profile."""

from __future__ import annotations

import os
import sys

# Shared test helpers live in tests/support (not tests/ itself, whose folders would shadow the packages).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True)
settings.load_profile("ci")
