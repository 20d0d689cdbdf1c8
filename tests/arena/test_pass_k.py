"""pass@k: the estimator against hand-checked values, the games it plays, mixtures of players and the CLI."""

from __future__ import annotations

import json
from math import isclose

import pytest

from arena.cli import main
from arena.errors import ArenaError
from arena.evaluation import EvalConfig, evaluate
from arena.evaluation.pass_k import check_pass_k, mixture_pass_at_k, pass_at_k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (4, 1, 1, 1 / 4),
        (4, 1, 2, 1 / 2),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (4, 1, 4, 1.0),
        (5, 2, 2, 7 / 10),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (8, 3, 4, 13 / 14),  # 1 - C(5,4)/C(8,4) = 1 - 5/70
        (6, 0, 3, 0.0),
        (6, 6, 1, 1.0),
    ],
)
def test_pass_at_k_hand_checked(n, c, k, expected):
    assert isclose(pass_at_k(n, c, k), expected)


def test_mixture_gives_each_player_its_share_of_k():
    # Two games each, one win from the first player, none from the second: pass@2 = 1 - (1/2)(1) = 1/2.
    assert isclose(mixture_pass_at_k([(2, 1), (2, 0)], 2), 1 / 2)
    # pass@4 of (4, 1) and (4, 2): each player's 2 games all fail with C(3,2)/C(4,2) = 1/2 and C(2,2)/C(4,2) = 1/6.
    assert isclose(mixture_pass_at_k([(4, 1), (4, 2)], 4), 1 - 1 / 12)
    # A single player is the usual estimate.
    assert mixture_pass_at_k([(8, 3)], 4) == pass_at_k(8, 3, 4)


def test_estimator_errors():
    with pytest.raises(ArenaError, match="multiple of 2"):
        mixture_pass_at_k([(4, 1), (4, 1)], 3)
    with pytest.raises(ArenaError, match="only 2 were played"):
        pass_at_k(2, 1, 4)
    with pytest.raises(ArenaError, match="3 successes in 2 games"):
        pass_at_k(2, 3, 1)
    with pytest.raises(ArenaError, match="multiple of 2"):
        check_pass_k((2, 3), 4, 2)
    with pytest.raises(ArenaError, match="more than the 4 games"):
        check_pass_k((8,), 4, 1)
    with pytest.raises(ArenaError, match="split evenly over 2 players"):
        check_pass_k((2,), 3, 2)


def test_config_errors():
    with pytest.raises(ValueError, match="distinct positive"):
        EvalConfig(pass_k=(2, 2))
    with pytest.raises(ValueError, match="distinct positive"):
        EvalConfig(pass_k=(0,))
    with pytest.raises(ValueError, match="fewer than the largest k"):
        EvalConfig(pass_k=(1, 8), pass_k_samples=4)
    with pytest.raises(ValueError, match="pass_k_start_plies .* only shape pass@k games"):
        EvalConfig(pass_k_start_plies=2)
    with pytest.raises(ArenaError, match="judged by pass@k only"):
        evaluate("random", tiers=("random",), games_per_tier=2, mix_with=["random"])


@pytest.fixture(scope="module")
def random_report():
    return evaluate("random", tiers=("random", "perfect"), games_per_tier=4, pass_k=(1, 2, 4), pass_k_problems=6)


def test_problems_are_played_k_times_and_rise_with_k(random_report):
    section = random_report.pass_at_k
    assert section["k"] == [1, 2, 4] and section["games_per_problem"] == 4 and section["players"] == ["random"]
    for entry in section["tiers"]:
        assert entry["problems"] == 6 and entry["games"] == 24 and entry["incomplete_problems"] == 0
        for outcome in ("win", "not_lost"):
            rates = [entry["pass_at_k"][str(k)][outcome] for k in (1, 2, 4)]
            assert rates == sorted(rates)  # more tries never find less
            for k in (1, 2, 4):
                lo, hi = entry["pass_at_k"][str(k)][f"{outcome}_ci"]
                assert lo <= entry["pass_at_k"][str(k)][outcome] <= hi
        assert entry["distinct_winning_lines"] <= entry["distinct_lines"] <= 24
    vs_perfect = random_report.pass_at_k["tiers"][1]
    assert all(vs_perfect["pass_at_k"][str(k)]["win"] == 0 for k in (1, 2, 4))  # nobody beats perfect


def test_pass_at_1_is_the_share_of_games_won(random_report):
    games = [g for g in random_report.games if g.group == "pass@k:random"]
    assert len(games) == 24
    wins = sum(g.result == "win" for g in games)
    assert isclose(random_report.pass_at_k["tiers"][0]["pass_at_k"]["1"]["win"], wins / 24)
    # The k games of a problem share its seat, opening and opponent: they differ by the player's samples only.
    problem = [g for g in games if g.index == 3]
    assert sorted(g.sample for g in problem) == [0, 1, 2, 3] and {g.seat for g in problem} == {"second"}


def test_tier_games_are_the_same_with_or_without_pass_k(random_report):
    plain = evaluate("random", tiers=("random", "perfect"), games_per_tier=4)
    untimed = [
        [{k: v for k, v in t.items() if k != "seconds_per_move"} for t in r.tiers] for r in (plain, random_report)
    ]
    assert untimed[0] == untimed[1]
    assert random_report.to_dict()["pass_at_k"] == random_report.pass_at_k and plain.to_dict()["pass_at_k"] == {}


def test_same_seed_same_pass_k(random_report):
    again = evaluate("random", tiers=("random", "perfect"), games_per_tier=4, pass_k=(1, 2, 4), pass_k_problems=6)
    assert again.pass_at_k == random_report.pass_at_k


def test_a_deterministic_player_finds_one_line_a_problem():
    report = evaluate(
        "perfect-first",
        tiers=("perfect-first",),
        games_per_tier=2,
        pass_k=(1, 4),
        pass_k_problems=4,
        move_quality=False,
    )
    entry = report.pass_at_k["tiers"][0]
    assert entry["distinct_lines_per_problem"] == 1.0
    assert entry["pass_at_k"]["4"]["not_lost"] == 1.0 and entry["pass_at_k"]["4"]["win"] == 0.0


def test_mixture_splits_every_problem_and_unseen_openings(tmp_path):
    report = evaluate(
        "perfect-first",
        tiers=("perfect",),
        games_per_tier=2,
        pass_k=(2, 4),
        pass_k_problems=4,
        pass_k_start_plies=2,
        mix_with=["random"],
    )
    section = report.pass_at_k
    assert section["players"] == ["perfect-first", "random"] and section["games_per_player"] == 2
    entry = section["tiers"][0]
    assert [p["games"] for p in entry["per_player"]] == [8, 8]
    games = [g for g in report.games if g.group == "pass@k:perfect"]
    assert {(g.player, g.sample) for g in games if g.index == 0} == {
        ("perfect-first", 0),
        ("perfect-first", 1),
        ("random", 2),
        ("random", 3),
    }
    assert {len(g.start) for g in games} == {2, 3}  # one more ply on odd problems: both seats are probed
    # Perfect play from any opening never loses to perfect; random's half of the games cannot lose every time.
    assert entry["pass_at_k"]["2"]["not_lost"] == 1.0
    report.save_transcripts(tmp_path / "t.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert {r["player"] for r in rows if r["group"].startswith("pass@k")} == {"perfect-first", "random"}
    assert all("sample" not in r for r in rows if not r["group"].startswith("pass@k"))


def test_cli_pass_k_and_mixture(tmp_path, capsys):
    args = ["eval", "--player", "noisy-0.5", "--tiers", "random", "--games", "2", "--no-progress", "--out"]
    code = main([*args, str(tmp_path), "--pass-k", "2", "4", "--pass-k-problems", "4", "--mix-with", "random"])
    assert code == 0
    out = capsys.readouterr().out
    assert "pass@k of noisy-0.5 + random" in out and "not lost" in out
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["pass_at_k"]["players"] == ["noisy-0.5", "random"]
    assert data["pass_at_k"]["tiers"][0]["problems"] == 4
    assert data["config"]["pass_k"] == [2, 4]

    assert main([*args, str(tmp_path), "--mix-with", "random"]) == 2
    assert "add --pass-k" in capsys.readouterr().out
    assert main([*args, str(tmp_path), "--pass-k-problems", "3"]) == 2
    assert "--pass-k-problems" in capsys.readouterr().out
    assert main([*args, str(tmp_path), "--pass-k", "3", "--mix-with", "random"]) == 2
    assert "multiple of 2" in capsys.readouterr().out
