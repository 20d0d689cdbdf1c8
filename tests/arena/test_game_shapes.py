"""Games that are not tic-tac-toe-shaped (extra turns, a misere game, passes with a score) through everything
that plays games: the env and vector env always prompt the agent for its own side, evaluation plays the
solved outcome, the command line and a short training run work. `perfect` itself is checked against brute
force in tests/opponents/test_minimax.py."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from small_games import ClaimBlocks, RowState, SmallOthello, register_small_games, solve

from arena.cli import main, play_match
from arena.env import TextGameEnv
from arena.errors import ArenaError
from arena.evaluation import evaluate
from arena.evaluation.play import play_terminal
from arena.evaluation.quality import MoveJudge
from arena.games import DRAW, GameSpec, make_game, register_game, registry
from arena.text import GridRenderer
from arena.vector import TextGameVectorEnv
from curricula.config import OpeningStart
from curricula.starts import StartSampler

NAMES = register_small_games()
EXTRA_TURN_GAMES = ("test_claim_blocks", "test_small_othello")  # where a player can move twice in a row


def answer(move: int) -> str:
    return f"<think>t</think><move>{move}</move>"


def expect_own_turn(env: TextGameEnv, prompt: str, info: dict) -> None:
    """The prompt is for the agent's own side, with the legal moves of the position."""
    game, state = env.game, env.state
    assert game.to_move(state) == env.seat
    assert prompt.endswith(
        f"You play {env.renderer.symbol(env.seat)}. Legal moves: " + " ".join(map(str, info["legal_moves"]))
    )
    assert tuple(info["legal_moves"]) == game.legal_moves(state)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("opponent", ["random", "perfect"])
def test_env_prompts_only_for_the_agents_turn(name, opponent):
    env = TextGameEnv(name, opponent=opponent)
    rng = np.random.default_rng(0)
    runs = extra_turns = 0
    for seed in range(80):
        prompt, info = env.reset(seed=seed)
        played = list(info["moves"])
        assert played == info["opponent_moves"]
        while True:
            expect_own_turn(env, prompt, info)
            move = int(rng.choice(info["legal_moves"]))
            prompt, _, terminated, truncated, info = env.step(answer(move))
            # The history is the agent's move, then every opponent move of its turn.
            assert info["moves"] == [*played, move, *info["opponent_moves"]]
            assert info["opponent_move"] == (info["opponent_moves"][-1] if info["opponent_moves"] else None)
            runs += len(info["opponent_moves"]) > 1
            played = list(info["moves"])
            if terminated or truncated:
                break
            extra_turns += not info["opponent_moves"]
        assert env.game.play(played) == env.state
        winner = env.game.winner(env.state)
        assert info["result"] == ("draw" if winner == DRAW else "win" if winner == env.seat else "loss")
    if name in EXTRA_TURN_GAMES:
        assert runs > 0 and extra_turns > 0  # the opponent moved twice in a row, and so did the agent


@pytest.mark.parametrize("name", NAMES)
def test_vector_env_prompts_only_for_the_agents_turn(name):
    env = TextGameVectorEnv(name, num_envs=16, opponent="perfect")
    single = TextGameEnv(name)
    rng = np.random.default_rng(1)
    prompts, info = env.reset(seed=1)
    finished = 0
    for _ in range(60):
        for i in range(env.num_envs):
            state = env.state(i)
            assert env.game.to_move(state) == env.seat[i]
            assert info["legal_moves"][i] == env.game.legal_moves(state)
            assert prompts[i] == single.turn_prompt(state)
        moves = [int(rng.choice(legal)) for legal in info["legal_moves"]]
        prompts, _, terminated, _, info = env.step([answer(m) for m in moves])
        for i in np.flatnonzero(terminated).tolist():
            record = info["final_info"]
            final = env.game.play(record["moves"][i])
            winner, seat = env.game.winner(final), int(record["seat"][i] == "second")
            assert record["result"][i] == ("draw" if winner == DRAW else "win" if winner == seat else "loss")
            finished += 1
    assert finished > 20


@pytest.mark.parametrize("name", NAMES)
def test_perfect_against_perfect_plays_the_solved_outcome(name):
    game = make_game(name)
    value, _ = solve(game, game.initial_state(), {})
    first = "win" if value > 0 else "loss" if value < 0 else "draw"
    report = evaluate("perfect", game=name, tiers=("perfect", "random"), games_per_tier=6, move_quality=True)
    for record in report.games:
        if record.tier == "perfect":
            expected = first if record.seat == "first" else {"win": "loss", "loss": "win"}.get(first, first)
            assert record.result == expected, record
    # Exact move judging is on for these short games, and perfect never blunders.
    assert report.solver == "minimax" and report.solver_note == ""
    assert report.tier("random")["moves_judged"] > 0 and report.tier("random")["blunders"] == 0
    # No calibrated table for a plug-in game: rated against random at 0.
    assert report.rating["anchors"] == {"random": 0.0} and report.rating["rating"] > 0


def test_move_quality_says_why_it_is_off():
    report = evaluate(
        "random", game="test_small_othello", tiers=("random",), games_per_tier=2, move_quality_max_moves=4
    )
    assert report.solver == "none" and report.tier("random")["blunder_rate"] is None
    assert "runs up to 8 moves" in report.solver_note and "move_quality_max_moves" in report.solver_note
    assert report.to_dict()["move_quality_note"] == report.solver_note


@pytest.mark.parametrize("name", NAMES)
def test_command_line_plays_the_game(name, capsys):
    tally = play_match(name, "perfect", "random", games=6, seed=0)
    assert sum(tally.values()) == 6
    assert main(["demo", "--game", name, "--tiers", "perfect", "random", "--games", "2"]) == 0
    renderer_symbols = {"test_small_othello": ("B", "W")}.get(name, ("X", "O"))
    assert f"perfect ({renderer_symbols[0]}) vs random ({renderer_symbols[1]})" in capsys.readouterr().out

    def first_legal(prompt: str) -> str:
        return prompt.split("(")[1].split()[0].rstrip("):")

    assert play_terminal(name, "random", "second", input_fn=first_legal) in ("win", "draw", "loss")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_a_short_training_run(name, tmp_path):
    pytest.importorskip("trl")
    from arena.training.config import load_train_config
    from arena.training.job import train

    config = load_train_config(
        None,
        {
            "game": name,
            "run.output_dir": str(tmp_path),
            "run.device": "cpu",
            "model.name_or_path": "tiny",
            "warmup.steps": 2,
            "curriculum": {"kind": "fixed", "seat": "random", "opponents": {"random": 0.5, "perfect": 0.5}},
            "env.invalid_move": "random",
            "grpo.steps": 2,
            "grpo.groups_per_step": 2,
            "grpo.group_size": 4,
            "grpo.max_new_tokens": 12,
            "grpo.report_to": "none",
            "eval.before": False,
            "eval.tiers": ["random"],
            "eval.games_per_tier": 4,
        },
    )
    run_dir = train(config)
    assert (run_dir / "eval_after.json").exists() and (run_dir / "final" / "model.safetensors").exists()
    assert run_dir.name.startswith(f"{name}__")


def test_an_extra_turn_that_sets_up_ones_own_win_is_not_a_missed_block():

    game = SmallOthello()
    state = RowState((-1, 1, 0, -1, -1, 0, 0, 0, -1, -1, 0, 1), 1, None)
    after = game.apply(state, 3)  # B has no reply and passes: W moves again and can end the game, winning
    assert game.to_move(after) == 1 and any(game.winner(game.apply(after, m)) == 1 for m in game.legal_moves(after))
    verdict = MoveJudge(game).judge(state, 3)
    assert not verdict.missed_block and not verdict.blunder


@pytest.mark.parametrize("seat", ["first", "second"])
def test_openings_leave_the_agent_a_turn_where_the_opponent_moves_several_times(seat):

    # Deep openings of ClaimBlocks often leave the opponent a block to fill and then the last one: its turn
    # ends the game, so the sampler must look past the opponent's first move.
    sampler = StartSampler(make_game("test_claim_blocks"), [OpeningStart(plies=4, max_plies=6, max_tries=1000)])
    env = TextGameEnv("test_claim_blocks")
    rng = np.random.default_rng(0)
    for _ in range(200):
        moves, got_seat = sampler.sample(rng, seat)
        env.reset(seed=0, options={"start": list(moves), "agent_seat": got_seat})  # raises if the agent gets no turn


def test_a_stuck_position_is_a_clear_error():

    class Stuck(ClaimBlocks):
        """Breaks the contract: after two moves nobody can move, yet the game is not over."""

        def legal_moves(self, state: RowState) -> tuple[int, ...]:
            return () if sum(c != -1 for c in state.cells) >= 2 else super().legal_moves(state)

    register_game(GameSpec("test_stuck", Stuck, GridRenderer, "arena-test/Stuck-v0"), replace=True)
    try:
        env = TextGameEnv("test_stuck", agent_seat="first")
        env.reset(seed=0)
        with pytest.raises(ArenaError, match=r"not over but has no legal moves; a player who cannot move"):
            env.step(answer(0))
    finally:  # a broken game must not reach tests that go over every registered game
        registry._REGISTRY.pop("test_stuck")
        gym.registry.pop("arena-test/Stuck-v0")
