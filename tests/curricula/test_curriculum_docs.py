"""Every YAML example in docs/curricula.md is a valid curriculum (docs that drift fail here)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from curricula import make_curriculum

DOC = Path(__file__).resolve().parents[2] / "docs" / "curricula.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_examples_of_every_kind() -> None:
    kinds = {yaml.safe_load(block).get("kind") for block in BLOCKS}
    assert {"fixed", "stratified", "scheduled", "adaptive"} <= kinds


@pytest.mark.parametrize("block", BLOCKS)
def test_yaml_examples_build_and_sample(block: str) -> None:
    data = yaml.safe_load(block)
    if "kind" not in data:  # a fragment (e.g. the starts list) shown on its own
        data = {"kind": "fixed", "opponents": "random", **data}
    curriculum = make_curriculum(data, "tictactoe")
    assert len(curriculum.sample_batch(np.random.default_rng(0), 4, 2)) == 8
