"""The evaluation protocol with scripted players: known results, determinism, seat balance, outputs, CLI."""

from __future__ import annotations

import json

import pytest

from arena.cli import build_parser, main
from arena.evaluation import EvalConfig, EvalReport, MoveJudge, evaluate
from arena.evaluation.runner import TierStats
from arena.evaluation.stats import DEFAULT_ANCHORS
from arena.games.registry import get_spec

REQUIRED_KEYS = {"tier", "games", "wins", "draws", "losses", "score", "invalid_move_rate", "format_error_rate"}


@pytest.fixture(scope="module")
def perfect_report() -> EvalReport:
    return evaluate("perfect", game="tictactoe", tiers=["random", "perfect"], games_per_tier=60, seed=1)


def test_perfect_never_loses_to_random_and_draws_itself(perfect_report):
    vs_random, vs_perfect = perfect_report.tier("random"), perfect_report.tier("perfect")
    assert vs_random["losses"] == 0 and vs_random["wins"] > 40
    assert vs_perfect["draws"] == vs_perfect["games"] == 60
    for entry in perfect_report.tiers:
        assert entry["invalid_move_rate"] == 0.0 and entry["format_error_rate"] == 0.0
        assert entry["blunder_rate"] == 0.0 and entry["missed_wins"] == 0 and entry["missed_blocks"] == 0


def test_seats_are_balanced(perfect_report):
    seats = [g.seat for g in perfect_report.games if g.tier == "random"]
    assert seats.count("first") == seats.count("second") == 30


def test_same_seed_same_games_other_seed_other_games(perfect_report):
    again = evaluate("perfect", game="tictactoe", tiers=["random", "perfect"], games_per_tier=60, seed=1, batch_size=7)
    assert [g.moves for g in again.games] == [g.moves for g in perfect_report.games]
    other = evaluate("perfect", game="tictactoe", tiers=["random", "perfect"], games_per_tier=60, seed=2)
    assert [g.moves for g in other.games] != [g.moves for g in perfect_report.games]


def test_json_report(tmp_path, perfect_report):
    path = perfect_report.save(tmp_path / "r.json", include_games=True)
    data = json.loads(path.read_text())
    assert [t["tier"] for t in data["tiers"]] == ["random", "perfect"]
    for entry in data["tiers"]:
        assert set(entry) >= REQUIRED_KEYS
        assert set(entry) == set(TierStats.__annotations__)  # the typed schema is the written one, key for key
    assert len(data["games"]) == 120
    assert data["rating"]["anchors"] == {t: DEFAULT_ANCHORS["tictactoe"][t] for t in ("random", "perfect")}
    assert data["rating"]["rating"] > DEFAULT_ANCHORS["tictactoe"]["random"]
    metrics = perfect_report.metrics()
    assert metrics["eval/score_vs_random"] == pytest.approx(perfect_report.tier("random")["score"])


def test_plot(tmp_path, perfect_report):
    import matplotlib

    from arena.training.job import plot_learning_curves

    previous = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's inline backend, which plotting must leave in place
    try:
        path = perfect_report.plot(tmp_path / "s.png")
        history = [{"step": 1, "reward": 0.5}, {"step": 2, "reward": 0.7}]
        curves = plot_learning_curves(history, tmp_path / "c.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(previous)
    assert path.read_bytes()[:8] == curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_random_player_blunders_and_loses_to_perfect():
    report = evaluate("random", tiers=["perfect"], games_per_tier=40, seed=0)
    entry = report.tier("perfect")
    assert entry["wins"] == 0 and entry["losses"] > 20
    assert entry["blunder_rate"] > 0.1 and entry["missed_blocks"] > 0


def test_probes_for_a_randomised_perfect_player():
    report = evaluate("perfect", tiers=["random"], games_per_tier=10, seed=0, probes=True, probe_games=20)
    mem = report.probes["memorisation"]
    assert mem["score_vs_perfect"] == mem["score_vs_perfect_first"] == 0.5 and mem["gap"] == 0.0
    assert report.probes["unseen_starts"]["games"] == 20
    div = report.probes["diversity"]
    assert div["distinct_lines"] > 2 and div["move_entropy_bits"] > 0.1
    # Probe games are not tiers of the table.
    assert [t["tier"] for t in report.tiers] == ["random"]


def test_probe_catches_a_deterministic_player():
    report = evaluate("perfect-first", tiers=["random"], games_per_tier=4, seed=0, probes=True, probe_games=20)
    div = report.probes["diversity"]
    assert div["distinct_lines"] <= 2 and div["move_entropy_bits"] == 0.0  # at most one line per seat


def test_judge_finds_missed_win_block_and_blunder():
    game = get_spec("tictactoe").game()
    judge = MoveJudge(game)
    # X: 0 1, O: 3 4; X to move can win at 2 (and O threatens 5).
    state = game.play([0, 3, 1, 4])
    assert judge.judge(state, 2) == judge.judge(state, 2).__class__(False, True, False, False, False)
    v = judge.judge(state, 5)
    assert v.missed_win and v.blunder and v.win_chance
    # X: 0 8, O: 4 ... O threatens nothing; X: 0, O: 4, X: 8, O: 1 -> O threatens 7; X must block.
    state = game.play([0, 4, 8, 1])
    block = judge.judge(state, 7)
    assert block.block_chance and not block.missed_block and not block.blunder
    miss = judge.judge(state, 2)
    assert miss.missed_block and miss.blunder


def test_config_errors():
    with pytest.raises(ValueError, match="unknown opponent tier"):
        EvalConfig(tiers=("randomish",))
    with pytest.raises(ValueError, match="distinct"):
        EvalConfig(tiers=("random", "random"))
    with pytest.raises(ValueError, match="unknown game"):
        EvalConfig(game="chess")
    with pytest.raises(ValueError, match="extra"):
        EvalConfig(gamez=3)


def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--help"])
    text = capsys.readouterr().out
    for option in (
        "--player",
        "--tiers",
        "--games",
        "--seed",
        "--batch-size",
        "--base-url",
        "--api-key-env",
        "--probes",
        "--anchor",
        "--json",
        "--plot",
        "--temperature",
        "--timeout",
        "--retries",
    ):
        assert option in text
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for action in sub.choices["eval"]._actions:
        assert action.help, f"option {action.option_strings} has no help"


def test_cli_eval_writes_json_and_png(tmp_path):
    code = main(
        [
            "eval",
            "--player",
            "perfect",
            "--tiers",
            "random",
            "perfect",
            "--games",
            "10",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--anchor",
            "random=0",
        ]
    )
    assert code == 0
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["tiers"][1]["draws"] == 10
    assert data["rating"]["anchors"]["random"] == 0
    assert (tmp_path / "scores.png").exists()


def test_cli_eval_reports_bad_tier(capsys):
    assert main(["eval", "--player", "perfect", "--tiers", "bogus", "--games", "2", "--no-progress"]) == 2
    assert "unknown opponent tier" in capsys.readouterr().out


def test_connect_four_rule_checks_without_exact_values():
    report = evaluate("depth-2", game="connect_four", tiers=["random"], games_per_tier=4, seed=0)
    entry = report.tier("random")
    assert entry["losses"] == 0
    assert entry["missed_wins"] == 0  # depth-2 search always takes an immediate win
    assert report.solver in ("bitbully", "none")
