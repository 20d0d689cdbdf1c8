"""The configuration reference in docs/ is generated from the pydantic models and must match them."""

from __future__ import annotations

from arena.training.reference import main, render


def test_committed_reference_is_up_to_date():
    assert main(["--check"]) == 0, "run: python -m arena.training.reference"


def test_reference_names_every_section_and_a_nested_field():
    text = render()
    for section in ("`run`", "`env`", "`env.rewards`", "`model`", "`warmup`", "`grpo`", "`exploration`", "`eval`"):
        assert f"## {section}" in text
    assert "| `grpo.rollout` |" in text and "| `env.rewards.invalid_penalty` |" in text
