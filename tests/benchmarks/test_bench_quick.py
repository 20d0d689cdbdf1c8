"""The BENCHMARKS.md generator on fixture JSON: fast, and needs none of the peer suites installed."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def load_benchmark(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """benchmarks/<name>.py as a module: benchmarks/ holds scripts, not a package, and they import their neighbours."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():
    # benchmarks/ holds scripts, not a package: load the generator from its file.
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_from_fixtures(report, tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    report.main(["--results", str(FIXTURES), "--out", str(out)])
    text = out.read_text()
    assert text.startswith("# Benchmarks\n")
    assert "Fixture CPU, 2 cores" in text and "2025-01-01 00:00 UTC" in text
    # Targets: met, not met, from each source.
    assert "| text env >= 10x TextArena games/s, tictactoe (vector env, text every ply) | 12.0x | met |" in text
    # A results file from before the vector env names no row: its target was the per-game text-every-ply row.
    assert "| text env >= 10x TextArena games/s, connect_four (text every ply) | 3.3x | **not met** |" in text
    assert "| arena vector (text every ply) | arena tictactoe | 400 | 12,000 | 12.00x |" in text
    assert "| arena (text every ply) | arena tictactoe | 40 | 1,100 | 1.10x |" in text
    assert "| `perfect` tic-tac-toe move median < 50 us | 18.5 us | met |" in text
    assert "| connect-four `depth-4` move median < 20 ms | 25.00 ms | **not met** |" in text
    assert "| opponents < 5% of a training step | 1.7% | met |" in text
    assert "| generation, not Python glue, dominates a GRPO step | generation | met |" in text
    # Skipped peers are shown with their reason, not dropped.
    assert "skipped: ModuleNotFoundError: No module named 'pettingzoo'" in text
    assert "| textarena | 0.7.4 | MIT |" in text
    assert "| generation | 2.000 | 66.7% |" in text


def test_report_without_optional_results(report, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(FIXTURES / "bench_core.json", results / "bench_core.json")
    text = report.render(report.load(results))
    assert "Not measured: run `python benchmarks/bench_train.py`." in text
    assert "Not run: `pip install -e '.[bench,solver]' && python benchmarks/bench_peers.py`." in text
    assert "| opponents < 5% of a training step | - | not measured | bench_train |" in text
    assert "| `perfect` tic-tac-toe move median < 50 us | 18.5 us | met |" in text


def test_report_with_no_results(report, tmp_path: Path) -> None:
    text = report.render(report.load(tmp_path))
    assert text.count("not measured") == 6


def test_keep_mode_updates_one_result_and_keeps_the_rest(report, tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    report.main(["--results", str(FIXTURES), "--out", str(out)])
    full = out.read_text()
    empty = tmp_path / "empty"
    empty.mkdir()
    report.main(["--results", str(empty), "--out", str(out), "--keep"])
    assert out.read_text() == full  # nothing measured anew: every row and section kept as it was
    only_core = tmp_path / "core"
    only_core.mkdir()
    shutil.copy(FIXTURES / "bench_core.json", only_core / "bench_core.json")
    report.main(["--results", str(only_core), "--out", str(out)])
    assert "Not measured: run `python benchmarks/bench_train.py`" in out.read_text()  # without --keep, say so


def test_keep_mode_adds_a_new_section_and_keeps_the_blank_line_before_the_next(report, tmp_path: Path) -> None:
    import json

    out = tmp_path / "BENCHMARKS.md"
    report.main(["--results", str(FIXTURES), "--out", str(out)])
    tier = {"games": 4, "wins": 2, "draws": 1, "losses": 1, "score": 0.625, "score_ci": [0.2, 0.9],
            "invalid_move_rate": 0.0}  # fmt: skip
    learning = {
        "machine": {"cpu": "Fixture CPU", "cores": 2, "python": "3.11", "platform": "x", "date": "2025-01-02"},
        "config": "configs/tictactoe-tiny-cpu.yaml", "overrides": [], "every": 50, "games": 4,
        "runs": [{"seed": 0, "wall_s": 60.0, "curve": [], "minutes_to": {"0.8": None, "0.9": None},
                  "final": {"random": tier, "perfect": tier}}],
    }  # fmt: skip
    only_learning = tmp_path / "learning"
    only_learning.mkdir()
    (only_learning / "bench_learning.json").write_text(json.dumps(learning))
    report.main(["--results", str(only_learning), "--out", str(out), "--keep"])
    text = out.read_text()
    assert "| 0 | 2/1/1 | 0.62 [0.20, 0.90] |" in text and "| textarena | 0.7.4 | MIT |" in text
    assert "`.\n\n## Peers measured\n" in text  # the kept section after the new one, a blank line between
    assert "ran at the same time" not in text
    (only_learning / "bench_learning.json").write_text(json.dumps({**learning, "parallel": True}))
    report.main(["--results", str(only_learning), "--out", str(out), "--keep"])
    assert "(`-`: never). The seeds ran at the same time, sharing the machine's cores." in out.read_text()


def test_supervised_calibration_runs_and_scores_every_position(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    out = tmp_path / "calib.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "calib_supervised.py"), "--steps", "2", "--every", "1",
           "--batch", "8", "--layout", "lines", "--init", "0.02", "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    result = json.loads(out.read_text())
    assert result["positions"] == 4520  # every non-terminal tic-tac-toe position
    assert [p["step"] for p in result["curve"]] == [1, 2]
    assert result["args"]["init"] == 0.02
    assert all(0.0 <= p["accuracy"] <= 1.0 for p in result["curve"])


def test_supervised_calibration_on_connect_four_scores_held_out_positions(tmp_path: Path, monkeypatch) -> None:
    import json
    import subprocess
    import sys

    out = tmp_path / "calib.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "calib_supervised.py"), "--game", "connect_four",
           "--positions", "60", "--steps", "2", "--every", "1", "--batch", "8", "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    result = json.loads(out.read_text())
    assert (result["positions"], result["held_out"]) == (54, 6)  # a tenth of the 60 drawn positions is held out
    assert [p["step"] for p in result["curve"]] == [1, 2]
    assert all(0.0 <= p[name] <= 1.0 for p in result["curve"] for name in ("accuracy", "legal", "tactical"))
    assert 0.0 < result["chance"]["accuracy"] <= 1.0 and result["chance"]["legal"] == 1.0
    for wrong in (["--game", "connect_four", "--layout", "lines"], ["--layout", "columns"]):
        bad = subprocess.run([*cmd[:2], *wrong], capture_output=True, text=True)
        assert bad.returncode == 2 and "--layout columns is connect four's" in bad.stderr

    module = load_benchmark("calib_supervised", monkeypatch)
    from arena.models.tiny import build_tokenizer
    from opponents.minimax import WIN

    # --layout columns reads the env's columns prompt: a line a column, then the side to move and the answer opening.
    tokenizer = build_tokenizer("connect_four")
    rows = module.connect_four_data(tokenizer, 3, 1, __import__("numpy").random.default_rng(0), "columns")
    for ids, best, legal, sound in rows:
        text = tokenizer.decode(ids)
        assert re.fullmatch(r"([0-6]( ?[.XO]){6}\n){7}You play [XO]\.<\|im_start\|><think></think>\n<move>", text), text
        assert set(best) <= set(legal) and set(sound) <= set(legal)

    # A win to take beats everything; else every move not proven lost; if every move loses, all of them.
    assert module.sound_moves({0: WIN, 1: 3, 2: -WIN}) == (0,)
    assert module.sound_moves({0: 3, 1: -WIN, 2: -2}) == (0, 2)
    assert module.sound_moves({0: -WIN, 1: -WIN}) == (0, 1)


def test_policy_probe_judges_every_position_and_finds_a_fixed_order(tmp_path: Path, monkeypatch) -> None:
    import json
    import subprocess
    import sys

    out = tmp_path / "probe.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "probe_policy.py"), "perfect", "random", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    perfect, random = json.loads(out.read_text())["rows"]
    assert perfect["positions"] == 4520 and perfect["invalid"] == 0.0
    assert perfect["optimal"] == perfect["win_in_1"] == perfect["must_block"] == 1.0
    assert random["optimal"] < 0.7 and random["win_in_1"] < 0.6 and random["fixed_order_share"] < 0.5

    module = load_benchmark("probe_policy", monkeypatch)
    rng = __import__("numpy").random.default_rng(0)
    legal = [tuple(sorted(rng.choice(9, size=int(rng.integers(1, 10)), replace=False).tolist())) for _ in range(300)]
    ranking = [4, 0, 8, 2, 6, 1, 3, 5, 7]
    moves = [next(c for c in ranking if c in free) for free in legal]  # a player that only ranks cells
    order, share = module.best_fixed_order(legal, moves, 9)
    assert share == 1.0 and order[:3] == ranking[:3]  # later cells can tie: few positions tell them apart


def test_grpo_update_calibration_tries_distinct_moves_and_scores_every_position(tmp_path: Path, monkeypatch) -> None:
    import json
    import subprocess
    import sys

    import numpy as np

    torch = pytest.importorskip("torch")
    module = load_benchmark("calib_grpo_update", monkeypatch)
    rng = np.random.default_rng(0)
    probs = np.array([0.9, 0.05, 0.0, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0])
    for _ in range(20):
        tried = module.tried_moves(probs, [2, 3, 5, 7], 4, rng)  # cell 0 is occupied but most likely
        assert len(tried) == len(set(tried)) == 4 and set(tried[1:]) <= {2, 3, 5, 7}
    assert module.tried_moves(probs, [1, 4], 4, rng)[1:] in ([1, 4], [4, 1], [4], [1])  # runs out of legal moves

    out = tmp_path / "calib.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "calib_grpo_update.py"), "--model", "tiny", "--steps", "2",
           "--every", "2", "--groups", "3", "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    curve = json.loads(out.read_text())["curve"]
    assert [(p["step"], p["positions"], p["drawn"]) for p in curve] == [(0, 0, 0), (2, 6, 6)]
    assert all(0.0 <= p["optimal"] <= 1.0 - p["occupied"] for p in curve)

    from arena.games.tictactoe import TicTacToe

    game, plies = TicTacToe(), set()
    for _ in range(200):
        state = module.random_play_position(game, rng)
        assert state is None or not game.is_over(state)
        plies.add(None if state is None else sum(cell != -1 for row in game.board(state) for cell in row))
    assert {None, *range(9)} <= plies  # every depth from the empty board to 8 plies, and some games that ended

    # The KL anchor: nothing where the policy agrees with its start; it pulls a drifted move back toward the start.
    logp = torch.log_softmax(torch.tensor([2.0, 0.0, 0.0, -1.0]), -1).requires_grad_()
    rewards, tried = np.array([1.0, 0.0, 0.5]), [0, 1, 2]
    plain = torch.stack(module.group_terms(logp, logp.detach(), rewards, tried, 0.0))
    anchored = torch.stack(module.group_terms(logp, logp.detach(), rewards, tried, 0.5))
    assert torch.allclose(plain, anchored)
    start = torch.log_softmax(torch.zeros(4), -1)  # the start liked move 0 less than the policy does now
    (grad,) = torch.autograd.grad(torch.stack(module.group_terms(logp, start, rewards * 0, tried, 0.5)).sum(), logp)
    assert grad[0] > 0 and grad[1] < 0  # descent lowers the drifted-up move 0 and raises move 1 back toward the start
    assert grad[3] == 0  # an untried move gets no gradient

    # Only groups whose tried moves differ in value are trained on: more positions are drawn than trained. Eight
    # groups a step, so that some of the 16 drawn positions are uninformative whatever the untrained model's draws.
    cmd[cmd.index("--groups") + 1] = "8"
    cmd += ["--positions", "random-play", "--informative-only"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    last = json.loads(out.read_text())["curve"][-1]
    assert last["positions"] <= 16 < last["drawn"] <= 4 * 16


def test_oracle_calibration_scores_each_first_move_by_its_solved_value(monkeypatch) -> None:
    pytest.importorskip("transformers")
    from arena.games.registry import make_game
    from arena.rewards import RewardConfig
    from arena.training.rollout import Episode
    from opponents.minimax import Minimax

    module = load_benchmark("calib_oracle_train", monkeypatch)
    game = make_game("tictactoe")

    def episode(moves, first, invalid=None):
        components = {"outcome": 0.5, "format": 0.2, "invalid": -0.1 if invalid else 0.0}
        record = {"agent_move": first, "invalid": invalid}
        return Episode(
            options={}, prompt_ids=[], reward=sum(components.values()), components=components,
            info={"moves": moves}, transcript=[record],
        )  # fmt: skip

    # X holds 0 and 1, O holds 3 and 4, X to move: 2 wins at once; 8 lets O win at 5. Their play-outs drew.
    win, blunder = episode([0, 3, 1, 4, 2], 2), episode([0, 3, 1, 4, 8, 5], 8)
    opening = episode([4, 0, 8, 2, 1, 7, 6, 3, 5], 4)  # the centre on the empty board: a draw with best play
    invalid = episode([0, 3], None, invalid="occupied")
    module.relabel([win, blunder, opening, invalid], game, Minimax(game), RewardConfig())
    assert [ep.components["outcome"] for ep in (win, blunder, opening, invalid)] == [1.0, 0.0, 0.5, 0.5]
    assert win.reward == pytest.approx(1.2) and invalid.reward == pytest.approx(0.6)


@pytest.mark.slow
def test_explorer_recipe_trains_an_explorer_and_compares_three_players(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from arena.models.tiny import save_tiny_model

    run = tmp_path / "run"  # a stand-in for a main-job run: two tiny models as its warm-up and final policies
    save_tiny_model(run / "warmup", seed=1)
    save_tiny_model(run / "final", seed=2)
    out = tmp_path / "explorer.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_explorer.py"), "--run", str(run), "--steps", "2",
           "--problems", "2", "--k", "2", "--out", str(out), "--grpo.groups_per_step", "2",
           "--grpo.max_new_tokens", "6"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    (seed,) = result["results"]
    assert list(seed["arms"]) == ["eta", "eta + explorer", "eta + reference"]
    mixed = seed["arms"]["eta + explorer"]
    assert mixed["games_per_player"] == 1 and [t["tier"] for t in mixed["tiers"]] == ["perfect", "perfect-first"]
    assert "eta + explorer" in proc.stdout and "KL to eta" in proc.stdout
    bad = subprocess.run([*cmd[:2], "--run", str(tmp_path)], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "no warmup/ model there" in bad.stderr
