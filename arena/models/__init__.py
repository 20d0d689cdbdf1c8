"""Models shipped with arena: the embedded tiny default model, built in code (needs the train extra)."""

from __future__ import annotations

from arena.models.tiny import build_tiny_model, build_tokenizer, sample_texts, save_tiny_model

__all__ = ["build_tiny_model", "build_tokenizer", "sample_texts", "save_tiny_model"]
