"""The text environment: Gymnasium conformance, episodes, invalid-move policies, rewards and fuzzing."""

from __future__ import annotations

import pickle

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given
from hypothesis import strategies as st
from small_games import register_small_games

import arena  # noqa: F401  (registers the env ids)
from arena.env import EnvConfig, TextGameEnv
from arena.errors import ArenaError, EpisodeOverError, OpponentSpecError
from arena.games import list_games


def answer(move, think="ok"):
    return f"<think>{think}</think><move>{move}</move>"


register_small_games()  # games with extra turns, a misere rule, passes and a score: held to the same checks
ENV_IDS = sorted(spec.env_id for spec in list_games())


def test_builtin_ids_are_registered():
    assert {"arena/TicTacToe-v0", "arena/ConnectFour-v0"} <= set(ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes(env_id):
    env = gym.make(env_id, opponent="random")
    check_env(env.unwrapped, skip_render_check=False)


def _rollout(env, seed, moves_from_info=True):
    obs, info = env.reset(seed=seed)
    trace = [obs]
    done = False
    while not done:
        move = info["legal_moves"][len(trace) % len(info["legal_moves"])]
        obs, reward, terminated, truncated, info = env.step(answer(move))
        trace.append((obs, reward, terminated, truncated, tuple(info["moves"])))
        done = terminated or truncated
    return trace


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("opponent", ["random", "noisy-0.5", "depth-2"])
def test_same_seed_same_games(env_id, opponent):
    a = gym.make(env_id, opponent=opponent, agent_seat="random")
    b = gym.make(env_id, opponent=opponent, agent_seat="random")
    assert _rollout(a, 123) == _rollout(b, 123)
    assert any(_rollout(a, s) != _rollout(a, 123) for s in range(5))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip_mid_episode(env_id):
    env = gym.make(env_id, opponent="depth-2", agent_seat="first")
    obs, info = env.reset(seed=5)
    env.step(answer(info["legal_moves"][0]))
    clone = pickle.loads(pickle.dumps(env))
    step = answer(env.unwrapped.game.legal_moves(env.unwrapped.state)[0])
    assert clone.step(step)[:4] == env.step(step)[:4]


def test_reset_returns_prompt_and_info():
    env = TextGameEnv("tictactoe", opponent="perfect-first", agent_seat="second")
    obs, info = env.reset(seed=0)
    assert info["moves"] == [0]  # the opponent moved first, and perfect-first takes the lowest best move
    assert obs == "X 1 2\n3 4 5\n6 7 8\nYou play O. Legal moves: 1 2 3 4 5 6 7 8"
    assert info["legal_moves"] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert info["seat"] == "second" and info["opponent"] == "perfect-first"
    system, user = info["messages"]
    assert system["role"] == "system" and "<think>" in system["content"] and "<move>N</move>" in system["content"]
    assert user == {"role": "user", "content": obs}


def test_reset_options_set_the_episode():
    env = TextGameEnv("connect_four", opponent="random", agent_seat="first")
    obs, info = env.reset(
        seed=1, options={"opponent": "depth-2", "agent_seat": "second", "start": [3, 3], "opponent_seed": 42}
    )
    assert info["opponent"] == "depth-2" and info["seat"] == "second" and info["opponent_seed"] == 42
    assert info["moves"][:2] == [3, 3] and len(info["moves"]) == 3  # X (the opponent) answered the start
    again = env.reset(
        seed=99, options={"opponent": "depth-2", "agent_seat": "second", "start": [3, 3], "opponent_seed": 42}
    )
    assert again[1]["moves"] == info["moves"]  # the opponent's seed, not the env's, drives its moves


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"start": [3, 3, 3, 3, 3, 3, 3]}, "not playable.*column 3 is full"),
        ({"agent_seat": "middle"}, "agent_seat must be"),
        ({"colour": "red"}, "unknown reset option"),
    ],
)
def test_bad_reset_options(options, match):
    env = TextGameEnv("connect_four")
    with pytest.raises(ArenaError, match=match):
        env.reset(seed=0, options=options)


def test_start_that_ends_the_game_is_refused():
    env = TextGameEnv("tictactoe")
    with pytest.raises(ArenaError, match="already ends the game"):
        env.reset(options={"start": [0, 3, 1, 4, 2]})


def test_bad_opponent_and_config_are_clear():
    with pytest.raises(OpponentSpecError, match="unknown opponent tier"):
        TextGameEnv("tictactoe", opponent="grandmaster")
    with pytest.raises(ArenaError, match="invalid_move"):
        TextGameEnv("tictactoe", invalid_move="explode")
    with pytest.raises(ArenaError, match="max_retries >= 1"):
        TextGameEnv("tictactoe", invalid_move="retry", max_retries=0)
    with pytest.raises(arena.UnknownGameError, match="unknown game 'chess'"):
        TextGameEnv("chess")


def play_out(env, moves):
    result = None
    for move in moves:
        result = env.step(answer(move))
        if result[2] or result[3]:
            break
    return result


@pytest.mark.parametrize(
    ("result_moves", "expected"),
    [
        ("win", 1.0 + 0.2),
        ("draw", 0.5 + 0.2),
        ("loss", 0.0 + 0.2),
    ],
)
def test_each_outcome_reward(result_moves, expected):
    env = TextGameEnv("tictactoe", opponent="random", agent_seat="first")
    for seed in range(200):  # find a seed where playing the lowest legal cell yields this outcome
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(answer(info["legal_moves"][0]))
            done = terminated or truncated
        if info["result"] == result_moves:
            assert reward == pytest.approx(expected)
            return
    pytest.fail(f"no seed produced a {result_moves}")


def test_forfeit_policy_ends_with_a_loss_and_penalty():
    env = TextGameEnv("tictactoe", opponent="random", agent_seat="first", invalid_move="forfeit")
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("no idea")
    assert terminated and info["forfeit"] and info["result"] == "loss"
    assert info["format_errors"] == 1 and info["invalid_moves"] == 1
    assert info["reward_components"] == {"outcome": 0.0, "format": 0.0, "invalid": -0.1}
    assert reward == pytest.approx(-0.1)
    assert "Game over" in obs
    with pytest.raises(EpisodeOverError, match="call reset"):
        env.step(answer(0))


def test_retry_policy_gives_feedback_then_forfeits():
    env = TextGameEnv("tictactoe", opponent="random", agent_seat="first", invalid_move="retry", max_retries=2)
    obs0, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(answer(9))
    assert not terminated and reward == 0.0
    assert obs.startswith("Your answer was not accepted (illegal move 9: cells are numbered 0-8)")
    assert obs.endswith(obs0) and info["illegal_moves"] == 1 and info["moves"] == []
    obs, _, terminated, _, info = env.step(answer("x"))
    assert not terminated and info["unparseable_moves"] == 1
    obs, reward, terminated, _, info = env.step(answer(4, think="x" * 5))
    assert not terminated and info["moves"][0] == 4  # a valid move after retries is played
    assert [r["kind"] for r in info["invalid_reasons"]] == ["illegal", "unparseable"]
    # Retries reset each turn; three bad answers in one turn forfeit.
    for _ in range(2):
        assert not env.step("garbage")[2]
    obs, reward, terminated, truncated, info = env.step("garbage")
    assert terminated and info["result"] == "loss" and info["format_errors"] == 3
    assert info["reward_components"]["format"] == pytest.approx(0.2 * 3 / 6)


def test_random_policy_plays_for_the_agent_and_penalises():
    env = TextGameEnv("connect_four", opponent="random", agent_seat="first", invalid_move="random")
    env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step(answer(7))
    assert not terminated and len(info["moves"]) == 2 and info["illegal_moves"] == 1
    assert "column" in info["invalid_reason"]
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(answer(info["legal_moves"][0]))
    assert info["reward_components"]["invalid"] == -0.1


def test_truncation_after_max_agent_turns():
    env = TextGameEnv("connect_four", opponent="random", agent_seat="first", max_agent_turns=3)
    env.reset(seed=0)
    for _ in range(2):
        assert env.step(answer(0))[3] is False
    obs, reward, terminated, truncated, info = env.step(answer(1))
    assert truncated and not terminated and info["result"] == "truncated"
    assert reward == pytest.approx(0.0 + 0.2)


def test_lenient_mode_plays_but_scores_format():
    env = TextGameEnv("tictactoe", opponent="random", agent_seat="first", answer={"mode": "lenient"})
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("I'll take <move>4</move>")
    assert info["moves"][0] == 4 and info["format_errors"] == 1 and info["invalid_moves"] == 0


def test_config_object_and_overrides_combine():
    config = EnvConfig(invalid_move="retry", max_retries=5)
    env = TextGameEnv("tictactoe", config=config, max_retries=1)
    assert env.config.invalid_move == "retry" and env.config.max_retries == 1


def test_render_modes():
    env = TextGameEnv("tictactoe", render_mode="ansi")
    env.reset(seed=0)
    assert env.render().count("\n") == 2
    with pytest.raises(ArenaError, match="render_mode"):
        TextGameEnv("tictactoe", render_mode="rgb_array")


ANY_TEXT = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.lists(st.sampled_from(["<think>", "</think>", "<move>", "</move>", "4", "x", " ", "\n", "-1", "99"])).map(
        "".join
    ),
    st.sampled_from(["", "\x00" * 50, "<think>" * 1000, "<move>" * 3 + "1" + "</move>" * 3, "💥" * 100]),
)


@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=12), policy=st.sampled_from(["retry", "forfeit", "random"]))
def test_step_survives_any_text(texts, policy):
    env = TextGameEnv("tictactoe", opponent="random", agent_seat="random", invalid_move=policy)
    obs, info = env.reset(seed=0)
    for turns, text in enumerate(texts, start=1):
        before = (info["format_errors"], info["unparseable_moves"], info["illegal_moves"], len(info["moves"]))
        obs, reward, terminated, truncated, info = env.step(text)
        assert env.observation_space.contains(obs)
        assert info["agent_turns"] == turns
        bad = info["invalid_moves"] - len([r for r in info["invalid_reasons"] if r["turn"] < turns])
        assert bad in (0, 1)
        assert info["format_errors"] - before[0] == (0 if info["format_ok"] else 1)
        assert (info["unparseable_moves"] - before[1]) + (info["illegal_moves"] - before[2]) <= bad
        if bad == 0:
            assert len(info["moves"]) > before[3]  # a valid move was played
        if terminated or truncated:
            assert "reward_components" in info
            assert reward == pytest.approx(sum(info["reward_components"].values()))
            break
        assert reward == 0.0


def test_step_survives_a_megabyte():
    env = TextGameEnv("connect_four", opponent="random", agent_seat="first", invalid_move="retry")
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("<think>" + "a" * 1_000_000 + "</think><move>3</move>")
    assert info["moves"][0] == 3 and env.observation_space.contains(obs)
    obs, *_, info = env.step("\udcff" * 1000 + "<move>" * 10_000)
    assert info["format_errors"] == 1 and env.observation_space.contains(obs)
