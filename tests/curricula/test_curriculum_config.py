"""Curriculum configs: YAML round-trips, and validation messages that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from arena.errors import ArenaError
from curricula import (
    AdaptiveConfig,
    FixedConfig,
    OpeningStart,
    PuzzleStart,
    ScheduledConfig,
    StratifiedConfig,
    config_from_yaml,
    config_to_yaml,
    load_config,
    parse_config,
)
from opponents import MinimaxSpec, ModelSpec, NoisySpec

FIXED_YAML = """
kind: fixed
opponents: {random: 0.3, noisy-0.5: 0.4, perfect: 0.3}
seat: random
starts:
  - {kind: empty, weight: 0.6}
  - {kind: opening, plies: 2, max_plies: 4, played_by: depth-1, weight: 0.3}
  - {kind: puzzle, puzzle: win-in-1, weight: 0.05}
  - {kind: puzzle, puzzle: must-block, weight: 0.05}
"""

CONFIGS = {
    "fixed": FIXED_YAML,
    "league": """
kind: fixed
opponents:
  - {opponent: perfect, weight: 0.5}
  - {opponent: {kind: model, path: runs/a/step-100, label: snap-100, temperature: 0.7}, weight: 0.25}
  - {opponent: {kind: noisy, p: 0.2, inner: {kind: minimax, depth: 2}}, weight: 0.25}
""",
    "stratified": """
kind: stratified
range: {kind: noisy, low: 0.2, high: 0.7}
buckets: 5
sample_within: uniform
""",
    "scheduled-mixture": """
kind: scheduled
interpolation: cosine
waypoints:
  - {step: 0, opponents: {random: 1.0}}
  - {step: 500, opponents: {random: 0.5, noisy-0.5: 0.5}}
  - {step: 1000, opponents: {random: 0.2, noisy-0.5: 0.4, perfect: 0.4}}
""",
    "scheduled-range": """
kind: scheduled
buckets: 3
waypoints:
  - {step: 0, range: {low: 0.6, high: 0.9}}
  - {step: 1000, range: {low: 0.0, high: 0.3}}
""",
    "adaptive": """
kind: adaptive
levels:
  - {random: 1.0}
  - {random: 0.5, noisy-0.5: 0.5}
  - {noisy-0.5: 0.5, perfect: 0.5}
window: 100
min_games: 50
lower: 0.35
upper: 0.75
""",
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_yaml_round_trip(name: str, tmp_path: Path) -> None:
    config = config_from_yaml(CONFIGS[name])
    text = config_to_yaml(config)
    assert config_from_yaml(text) == config
    path = tmp_path / "curriculum.yaml"
    path.write_text(text)
    assert load_config(path) == config


def test_compact_and_long_mixture_forms_agree() -> None:
    short = FixedConfig(opponents={"random": 1, "noisy-0.5": 3})
    long = FixedConfig(
        opponents=[{"opponent": {"kind": "random"}, "weight": 1}, {"opponent": NoisySpec(p=0.5), "weight": 3}]
    )
    assert short == long
    assert short.model_dump()["opponents"] == {"random": 1.0, "noisy-0.5": 3.0}
    assert FixedConfig(opponents="perfect").model_dump()["opponents"] == {"perfect": 1.0}


def test_specs_a_tier_name_cannot_carry_dump_in_long_form() -> None:
    config = config_from_yaml(CONFIGS["league"])
    dumped = yaml.safe_load(config_to_yaml(config))["opponents"]
    assert isinstance(dumped, list)
    assert config.opponents[1].opponent == ModelSpec(path="runs/a/step-100", label="snap-100", temperature=0.7)
    assert config.opponents[2].opponent == NoisySpec(p=0.2, inner=MinimaxSpec(depth=2))


def test_defaults_are_the_empty_board_and_a_random_seat() -> None:
    config = parse_config({"kind": "fixed", "opponents": {"random": 1}})
    assert config.seat == "random"
    assert [s.kind for s in config.starts] == ["empty"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "fixed", "opponents": {"random": -0.1, "perfect": 1}}, "weight of 'random' is -0.1; weights must be"),
        ({"kind": "fixed", "opponents": {"random": 0, "perfect": 0}}, "all opponent weights are 0"),
        ({"kind": "fixed", "opponents": {}}, "mixture is empty"),
        ({"kind": "fixed", "opponents": ["random", "random"]}, "appears twice"),
        ({"kind": "fixed", "opponents": {"random": float("nan")}}, "finite number"),
        ({"kind": "fixed", "opponents": {"rando": 1}}, "unknown opponent tier 'rando'"),
        ({"kind": "fixed", "opponents": {"noisy-1.5": 1}}, "invalid opponent tier 'noisy-1.5'"),
        ({"kind": "fixed", "opponents": {"random": 1}, "seat": "left"}, "seat"),
        ({"kind": "fixed", "opponents": {"random": 1}, "tiers": []}, "Extra inputs are not permitted"),
        ({"kind": "stratified", "range": {"low": 0.7, "high": 0.2}, "buckets": 2}, "swap them so low <= high"),
        ({"kind": "stratified", "range": {"low": -0.1, "high": 0.5}, "buckets": 2}, r"probabilities are in \[0, 1\]"),
        ({"kind": "stratified", "range": {"low": 0.2, "high": 1.2}, "buckets": 2}, r"probabilities are in \[0, 1\]"),
        ({"kind": "stratified", "range": {"kind": "depth", "low": 1, "high": 2}, "buckets": 3}, "at most 2 buckets"),
        ({"kind": "stratified", "range": {"kind": "depth", "low": 0.5, "high": 2}, "buckets": 1}, "whole numbers"),
        ({"kind": "stratified", "range": {"low": 0.1, "high": 0.2}, "buckets": 0}, "greater than or equal to 1"),
        (
            {"kind": "adaptive", "levels": ["random", "perfect"], "lower": 0.8, "upper": 0.6},
            "lower=0.8 must be below upper=0.6",
        ),
        ({"kind": "adaptive", "levels": ["random", "perfect"], "upper": 1.5}, "less than or equal to 1"),
        ({"kind": "adaptive", "levels": ["random"]}, "at least 2 items"),
        ({"kind": "adaptive", "levels": ["random", "perfect"], "start_level": 2}, r"use 0\.\.1"),
        ({"kind": "adaptive", "levels": ["random", "perfect"], "window": 10, "min_games": 20}, "lower min_games"),
        (
            {
                "kind": "scheduled",
                "waypoints": [{"step": 5, "opponents": "random"}, {"step": 5, "opponents": "perfect"}],
            },
            "strictly increasing",
        ),
        (
            {
                "kind": "scheduled",
                "waypoints": [{"step": 0, "opponents": "random"}, {"step": 9, "range": {"low": 0, "high": 1}}],
            },
            "use one form for every waypoint",
        ),
        (
            {"kind": "scheduled", "waypoints": [{"step": 0}, {"step": 9, "opponents": "random"}]},
            "exactly one of 'opponents' or 'range'",
        ),
        ({"kind": "scheduled", "waypoints": [{"step": 0, "opponents": "random"}]}, "at least 2 items"),
        (
            {
                "kind": "scheduled",
                "buckets": 2,
                "waypoints": [{"step": 0, "opponents": "random"}, {"step": 9, "opponents": "perfect"}],
            },
            "'buckets' applies to range waypoints only",
        ),
        (
            {"kind": "fixed", "opponents": "random", "starts": [{"kind": "opening", "plies": 4, "max_plies": 2}]},
            "set max_plies >= plies",
        ),
        (
            {
                "kind": "fixed",
                "opponents": "random",
                "starts": [{"kind": "opening", "plies": 2, "played_by": "model:x"}],
            },
            "a model snapshot cannot play them",
        ),
        ({"kind": "fixed", "opponents": "random", "starts": [{"kind": "puzzle", "puzzle": "mate-in-2"}]}, "win-in-1"),
        (
            {"kind": "fixed", "opponents": "random", "starts": [{"kind": "empty", "weight": 0}]},
            "all start weights are 0",
        ),
        ({"kind": "fixed", "opponents": "random", "starts": [{"kind": "empty", "weight": -1}]}, "weights must be >= 0"),
        ({"kind": "fixed", "opponents": "random", "starts": [{"kind": "empty"}, {"kind": "empty"}]}, "appears twice"),
        ({"kind": "bandit"}, "unknown curriculum kind 'bandit'; use one of fixed"),
        ({"opponents": {"random": 1}}, "lacks 'kind'"),
    ],
)
def test_invalid_configs_say_what_to_fix(data: dict, message: str) -> None:
    with pytest.raises(ArenaError, match=message):
        parse_config(data)


def test_config_classes_raise_validation_errors_directly() -> None:
    with pytest.raises(ValidationError, match="weights must be >= 0"):
        FixedConfig(opponents={"random": -1})
    with pytest.raises(ValidationError, match="frozen"):
        AdaptiveConfig(levels=["random", "perfect"]).window = 5  # type: ignore[misc]


def test_empty_or_non_mapping_yaml_is_refused() -> None:
    with pytest.raises(ArenaError, match="YAML is empty"):
        config_from_yaml("")
    with pytest.raises(ArenaError, match="is a mapping"):
        config_from_yaml("- fixed")


def test_labels_name_start_kinds() -> None:
    assert OpeningStart(plies=2).label == "opening-2"
    assert OpeningStart(plies=2, max_plies=4, played_by="depth-1").label == "opening-2-4(depth-1)"
    assert PuzzleStart(puzzle="must-block").label == "must-block"


def test_configs_are_their_kinds() -> None:
    assert isinstance(config_from_yaml(CONFIGS["stratified"]), StratifiedConfig)
    assert isinstance(config_from_yaml(CONFIGS["scheduled-range"]), ScheduledConfig)
