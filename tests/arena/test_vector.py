"""The vectorised text env: the same games as `TextGameEnv`, many at a time, and the batched answer parser."""

from __future__ import annotations

import pickle
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import arena  # noqa: F401  (registers the env ids)
from arena.env import TextGameEnv
from arena.errors import ArenaError, IllegalMoveError
from arena.games import Game, GameInfo, GameSpec, register_game
from arena.games.registry import _REGISTRY
from arena.text import AnswerFormat, Renderer, parse_answer, parse_answers
from arena.vector import (
    BatchOpponent,
    ConnectFourPositions,
    StatePositions,
    TextGameVectorEnv,
    TicTacToePositions,
    random_legal,
)
from opponents import Opponent

STRICT, LENIENT, TAGGED = AnswerFormat(), AnswerFormat(mode="lenient"), AnswerFormat(think_tag="r", move_tag="a-1")


def answer(move: Any, think: str = "ok") -> str:
    return f"<think>{think}</think><move>{move}</move>"


# -- a plug-in game, registered only for these tests --------------------------------------------------------------


class Pile(NamedTuple):
    stones: int
    player: int


class TakeAway(Game[Pile]):
    """Take 1-3 stones (move N takes N+1) from 9; whoever takes the last stone wins."""

    info = GameInfo(name="takeaway_vec", num_players=2, max_game_length=9, num_moves=3)

    def initial_state(self) -> Pile:
        return Pile(9, 0)

    def to_move(self, state: Pile) -> int:
        return state.player

    def legal_moves(self, state: Pile) -> tuple[int, ...]:
        return tuple(m for m in range(3) if m + 1 <= state.stones)

    def apply(self, state: Pile, move: int) -> Pile:
        if move not in self.legal_moves(state):
            raise IllegalMoveError(f"illegal move {move!r}: take 1-3 stones, at most {state.stones}")
        return Pile(state.stones - move - 1, 1 - state.player)

    def winner(self, state: Pile) -> int | None:
        return (1 - state.player) if state.stones == 0 else None

    def key(self, state: Pile) -> Pile:
        return state

    def board(self, state: Pile) -> tuple[tuple[int, ...], ...]:
        return ((0,) * state.stones,)


class PileRenderer(Renderer):
    title = "take-away"

    def rules(self) -> str:
        return "Take 1-3 stones; move N takes N+1. Whoever takes the last stone wins."

    def render(self, state: Pile) -> str:
        return f"Stones left: {state.stones}"


@pytest.fixture(scope="module", autouse=True)
def takeaway():
    spec = register_game(GameSpec("takeaway_vec", TakeAway, PileRenderer, "test/TakeAwayVec-v0"))
    yield spec
    _REGISTRY.pop("takeaway_vec", None)
    gym.registry.pop("test/TakeAwayVec-v0", None)


GAMES = ["tictactoe", "connect_four", "takeaway_vec"]


# -- playing and recording whole games ----------------------------------------------------------------------------


def policy(prompt: str, legal: np.ndarray, rng: np.random.Generator, junk: float) -> str:
    """Mostly legal answers; with probability `junk` a malformed, unreadable or illegal one."""
    if rng.random() < junk:
        return ["<move>1</move>", answer("one"), answer(99), "<think>x</think> <move>0</move> ok"][rng.integers(4)]
    moves = np.flatnonzero(legal)
    return answer(int(moves[rng.integers(len(moves))]), think=f"I have {len(moves)} choices")


def play_vector(env: TextGameVectorEnv, seed: int, games: int, junk: float = 0.0) -> list[dict[str, Any]]:
    """Step until `games` games have finished; each game's prompts, answers and end as the agent saw them."""
    rng = np.random.default_rng(seed + 1)
    obs, info = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    current = [{"prompts": [p], "answers": []} for p in obs]
    finished: list[dict[str, Any]] = []
    while len(finished) < games:
        actions = [policy(p, m, rng, junk) for p, m in zip(obs, info["legal_mask"], strict=True)]
        obs, rewards, terminated, truncated, info = env.step(actions)
        assert env.observation_space.contains(obs)
        for i, game in enumerate(current):
            game["answers"].append(actions[i])
            if not (terminated[i] or truncated[i]):
                game["prompts"].append(obs[i])
                continue
            assert info["_final_obs"][i] and info["_final_info"][i]
            final = dict(info["final_info"])
            components = {k: v[i] for k, v in final.pop("reward_components").items() if not k.startswith("_")}
            final = {key: value[i] for key, value in final.items() if not key.startswith("_")}
            game["prompts"].append(info["final_obs"][i])
            game.update(final, reward=rewards[i], terminated=terminated[i], truncated=truncated[i])
            game["reward_components"] = components
            finished.append(game)
            current[i] = {"prompts": [obs[i]], "answers": []}
    return finished


def replay_single(env: TextGameEnv, game: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The same answers through `TextGameEnv`; what it showed and paid."""
    obs, info = env.reset(seed=0, options=options)
    env.np_random = ReplayRandom(env, game["moves"])  # only the 'random' invalid-move policy draws from it
    prompts = [obs]
    for text in game["answers"]:
        obs, reward, terminated, truncated, info = env.step(text)
        prompts.append(obs)
    return {
        "prompts": prompts,
        "reward": reward,
        "terminated": terminated,
        "truncated": truncated,
        "result": info["result"],
        "moves": info["moves"],
        "reward_components": info["reward_components"],
        "invalid_reasons": info["invalid_reasons"],
        "agent_turns": info["agent_turns"],
        "format_errors": info["format_errors"],
        "illegal_moves": info["illegal_moves"],
        "unparseable_moves": info["unparseable_moves"],
    }


def assert_same_game(vector_game: dict[str, Any], single: dict[str, Any]) -> None:
    for key, value in single.items():
        assert vector_game[key] == value, key


class ReplayOpponent(Opponent):
    """Plays the opponent's moves of a recorded game, so `TextGameEnv` can be checked against the batched tier."""

    name = "random"

    def __init__(self, env: TextGameEnv) -> None:
        super().__init__(env.game)
        self.env, self.moves = env, []

    def choose(self, state: Any, rng: np.random.Generator) -> int:
        return self.moves[len(self.env.moves)]


# -- equivalence with TextGameEnv --------------------------------------------------------------------------------


@pytest.mark.parametrize("game", GAMES)
@pytest.mark.parametrize("opponent", ["depth-2", "noisy-0.5"])
def test_per_game_opponents_replay_in_the_single_env_from_their_seed(game, opponent):
    vec = TextGameVectorEnv(game, num_envs=5, opponent=opponent, agent_seat="random")
    single = TextGameEnv(game, opponent=opponent)
    games = play_vector(vec, seed=3, games=12, junk=0.15)
    assert any(g["forfeit"] for g in games) and any(not g["forfeit"] for g in games)
    assert any(g["invalid_reasons"] for g in games) and any(not g["invalid_reasons"] for g in games)
    for g in games:
        options = {"agent_seat": g["seat"], "opponent_seed": int(g["opponent_seed"])}
        assert_same_game(g, replay_single(single, g, options))


@pytest.mark.parametrize("game", GAMES)
@pytest.mark.parametrize("invalid_move", ["forfeit", "random"])
def test_batched_random_tier_matches_the_single_env_move_for_move(game, invalid_move):
    vec = TextGameVectorEnv(game, num_envs=8, opponent="random", invalid_move=invalid_move)
    single = TextGameEnv(game, opponent="random", invalid_move=invalid_move)
    replay = single._opponents["random"] = ReplayOpponent(single)
    games = play_vector(vec, seed=11, games=30, junk=0.1)
    for g in games:
        replay.moves = g["moves"]
        assert_same_game(g, replay_single(single, g, {"agent_seat": g["seat"]}))
    if invalid_move == "random":
        assert any(g["invalid_reasons"] and g["result"] != "loss" for g in games)  # games went on after one


class ReplayRandom:
    """Stands in for `TextGameEnv.np_random` so its random replacement moves are the recorded ones."""

    def __init__(self, env: TextGameEnv, moves: list[int]) -> None:
        self.env, self.moves = env, moves

    def integers(self, n: int) -> int:
        legal = self.env.game.legal_moves(self.env.state)
        return legal.index(self.moves[len(self.env.moves)])


@pytest.mark.parametrize("game", GAMES)
def test_prompts_for_either_side_are_the_single_env_turn_prompts(game):
    vec = TextGameVectorEnv(game, num_envs=6)
    single = TextGameEnv(game)
    rng = np.random.default_rng(0)
    vec.reset(seed=0)
    for _ in range(4):
        states = [vec.state(i) for i in range(vec.num_envs)]
        assert vec.prompts() == [single.turn_prompt(s) for s in states]
        assert [vec.game.play(vec.moves(i)) for i in range(vec.num_envs)] == states
        mask = vec.legal_mask()
        assert [tuple(np.flatnonzero(row)) for row in mask] == [vec.game.legal_moves(s) for s in states]
        vec.step([answer(m) for m in random_legal(mask, rng)])


@pytest.mark.parametrize(("game", "kwargs"), [("tictactoe", {}), ("connect_four", {}), ("connect_four", {"rows": 4})])
def test_numpy_boards_play_the_same_games_as_game_states(game, kwargs):
    runs = []
    for fast in (True, False):
        env = TextGameVectorEnv(game, num_envs=16, game_kwargs=kwargs, fast=fast)
        runs.append(play_vector(env, seed=5, games=60, junk=0.05))
    fast_positions = TextGameVectorEnv(game, num_envs=1, game_kwargs=kwargs).positions
    assert isinstance(fast_positions, TicTacToePositions | ConnectFourPositions)
    assert isinstance(TextGameVectorEnv(game, num_envs=1, fast=False).positions, StatePositions)
    assert runs[0] == runs[1]


def test_the_numpy_boards_see_every_kind_of_ending():
    games = play_vector(TextGameVectorEnv("tictactoe", num_envs=32), seed=1, games=300)
    assert {g["result"] for g in games} == {"win", "draw", "loss"}
    full = [g for g in games if len(g["moves"]) == 9]
    assert any(g["result"] == "draw" for g in full) and any(g["result"] != "draw" for g in full)


# -- episodes: invalid answers, autoreset, truncation, seeding ---------------------------------------------------


def test_invalid_answer_forfeits_with_the_reason_and_the_penalty():
    env = TextGameVectorEnv("tictactoe", num_envs=3, agent_seat="first")
    env.reset(seed=0)
    obs, rewards, terminated, truncated, info = env.step([answer(4), "no tags", answer(9)])
    assert terminated.tolist() == [False, True, True] and not truncated.any()
    assert info["forfeit"].tolist() == [False, True, True]
    assert info["invalid_kind"].tolist() == [None, "format", "illegal"]
    assert info["invalid_reason"][2] == "illegal move 9: cells are numbered 0-8"
    final = info["final_info"]
    assert final["_result"].tolist() == [False, True, True]
    assert final["result"][1] == final["result"][2] == "loss"
    # loss 0 + format share (0/1 and 1/1 turns well formed) x 0.2 + the invalid penalty -0.1
    assert rewards.tolist() == pytest.approx([0.0, -0.1, 0.1])
    assert final["reward_components"]["format"][2] == pytest.approx(0.2)
    assert info["final_obs"][2] == "0 1 2\n3 4 5\n6 7 8\nGame over. You lost."
    # The forfeited games restarted in the same step; the first goes on.
    assert obs[1] == obs[2] == "0 1 2\n3 4 5\n6 7 8\nYou play X. Legal moves: 0 1 2 3 4 5 6 7 8"
    assert (
        env.moves(0)[0] == 4 and len(env.moves(0)) == 2 and env.moves(1) == [] and env.agent_turns.tolist() == [1, 0, 0]
    )


def test_random_policy_plays_a_legal_move_and_penalises_once():
    env = TextGameVectorEnv("connect_four", num_envs=2, agent_seat="first", invalid_move="random")
    env.reset(seed=0)
    _, rewards, terminated, _, info = env.step(["garbage", answer(3)])
    assert not terminated.any() and info["agent_move"][0] in range(7) and info["invalid_kind"][0] == "format"
    assert len(env.moves(0)) == 2
    done = np.zeros(2, dtype=bool)
    rng = np.random.default_rng(0)
    while not done.all():  # game 0 ends exactly once on the way
        _, rewards, terminated, truncated, info = env.step([answer(m) for m in random_legal(info["legal_mask"], rng)])
        first = terminated & ~done
        if first[0]:
            assert info["final_info"]["invalid_moves"][0] == 1
            assert info["final_info"]["reward_components"]["invalid"][0] == pytest.approx(-0.1)
        done |= terminated


@pytest.mark.parametrize("game", GAMES)
def test_pickle_round_trip_mid_episode(game):
    env = TextGameVectorEnv(game, num_envs=3, opponent="depth-1", agent_seat="random")
    _, info = env.reset(seed=5)
    rng = np.random.default_rng(0)
    env.step([answer(m) for m in random_legal(info["legal_mask"], rng)])
    clone = pickle.loads(pickle.dumps(env))
    answers = [answer(m) for m in random_legal(env.legal_mask(), rng)]
    mine, theirs = env.step(answers), clone.step(answers)
    assert mine[0] == theirs[0] and all((a == b).all() for a, b in zip(mine[1:4], theirs[1:4], strict=True))
    assert [env.moves(i) for i in range(3)] == [clone.moves(i) for i in range(3)]


def test_retry_and_reset_options_are_refused_with_a_pointer():
    with pytest.raises(ArenaError, match="use TextGameEnv for 'retry'"):
        TextGameVectorEnv("tictactoe", invalid_move="retry")
    env = TextGameVectorEnv("tictactoe", num_envs=2)
    with pytest.raises(ArenaError, match="reset"):
        env.step([answer(0)] * 2)
    with pytest.raises(ArenaError, match="no reset options"):
        env.reset(options={"start": [4]})
    env.reset(seed=0)
    with pytest.raises(ArenaError, match="sequence of 2 answers"):
        env.step([answer(0)])
    with pytest.raises(ArenaError, match="num_envs"):
        TextGameVectorEnv("tictactoe", num_envs=0)


def test_truncation_after_max_agent_turns():
    env = TextGameVectorEnv("connect_four", num_envs=4, max_agent_turns=2, agent_seat="second")
    env.reset(seed=0)
    env.step([answer(0)] * 4)
    _, rewards, terminated, truncated, info = env.step([answer(6)] * 4)
    assert truncated.all() and not terminated.any()
    assert set(info["final_info"]["result"]) == {"truncated"}
    assert info["final_obs"][0].endswith("Game over. Out of turns.")
    assert rewards == pytest.approx([0.2] * 4)  # truncated 0.0 + every turn well formed


@pytest.mark.parametrize("game", GAMES)
def test_same_seed_same_games_other_seed_other_games(game):
    def run(seed: int) -> list[dict[str, Any]]:
        return play_vector(TextGameVectorEnv(game, num_envs=4, opponent="random"), seed=seed, games=10, junk=0.1)

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_reset_without_seed_continues_the_stream():
    env = TextGameVectorEnv("tictactoe", num_envs=8)
    first, _ = env.reset(seed=2)
    again, _ = env.reset(seed=2)
    assert first == again
    assert any(env.reset()[0] != first for _ in range(5))


def test_non_string_answers_are_read_like_the_single_env():
    env = TextGameVectorEnv("tictactoe", num_envs=2, agent_seat="first")
    env.reset(seed=0)
    _, _, terminated, _, info = env.step([answer(4).encode(), 7])
    assert info["agent_move"][0] == 4 and terminated[1] and info["invalid_kind"][1] == "format"


# -- gymnasium ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ["arena/TicTacToe-v0", "arena/ConnectFour-v0", "test/TakeAwayVec-v0"])
def test_make_vec_builds_the_vector_env(env_id):
    env = gym.make_vec(env_id, num_envs=3, opponent="depth-1")
    assert isinstance(env.unwrapped, TextGameVectorEnv) and env.num_envs == 3
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and env.single_observation_space.contains(obs[0])
    assert info["legal_mask"].shape == (3, env.unwrapped.game.info.num_moves) and info["_legal_mask"].all()
    # The same legal moves under the env's key, as TextGameEnv gives them.
    game = env.unwrapped.game
    assert [tuple(m) for m in info["legal_moves"]] == [game.legal_moves(env.unwrapped.state(i)) for i in range(3)]
    env.action_space.seed(0)
    obs, rewards, terminated, truncated, info = env.step(env.action_space.sample())  # random text: forfeits
    assert terminated.all() and rewards.shape == (3,) and env.observation_space.contains(obs)
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    env.close()


def test_a_custom_batch_opponent_is_used():
    class Lowest(BatchOpponent):
        name = "lowest"

        def choose(self, env, idx):
            return env.legal_mask(idx).argmax(axis=1)

    env = TextGameVectorEnv("tictactoe", num_envs=2, opponent=Lowest(), agent_seat="second")
    obs, _ = env.reset(seed=0)
    assert obs[0].startswith("X 1 2\n") and env.moves(1) == [0]


def test_an_opponent_that_cheats_is_caught():
    class Cheat(BatchOpponent):
        def choose(self, env, idx):
            return np.zeros(len(idx), dtype=np.int64)

    env = TextGameVectorEnv("tictactoe", num_envs=2, opponent=Cheat(), agent_seat="first")
    env.reset(seed=0)
    with pytest.raises(ArenaError, match="illegal move"):
        env.step([answer(0), answer(0)])


# -- the batched parser ------------------------------------------------------------------------------------------

PIECES = ["<think>", "</think>", "<move>", "</move>", "<r>", "</r>", "<a-1>", "</a-1>", "<", ">", "+", "-", "/"]
CHARS = st.sampled_from([" ", "\n", "\t", "\x0b", "\x1c", "\x85", "\xa0", "\u2003", "\u0663", "0", "7", "x", "."])
TEXTS = st.lists(st.one_of(st.sampled_from(PIECES), CHARS, st.integers(-5, 10**12).map(str)), max_size=12).map("".join)


@given(st.lists(TEXTS, min_size=1, max_size=6), st.sampled_from([STRICT, LENIENT, TAGGED]))
def test_parse_answers_agrees_with_parse_answer(texts, fmt):
    batch = parse_answers(texts, fmt)
    for i, text in enumerate(texts):
        single = parse_answer(text, fmt)
        assert batch.parsed(i) == single
        assert batch.has_move[i] == (single.move is not None) and batch.format_ok[i] == single.format_ok
        if single.move is not None:
            assert batch.moves[i] == single.move


@pytest.mark.parametrize("fmt", [STRICT, LENIENT])
@pytest.mark.parametrize(
    "text",
    [
        answer(4),
        "  <think>\nx\n</think>\n\n<move> +4 </move>\n",
        answer("007"),
        answer(123456789),
        answer(1234567890),  # ten digits: off every board, which parse_answer reports as -1
        answer(4, think="a < b"),
        answer(4) + "\x85",  # whitespace to str.strip, not to the fast pattern
        "\u3000" + answer(4),
        answer("\u0663"),
        answer(-1),
        "<think>a</think>x<move>1</move>",
        "<move>2</move>",
    ],
)
def test_parse_answers_edge_cases(text, fmt):
    assert parse_answers([text], fmt).parsed(0) == parse_answer(text, fmt)


def test_the_fast_pattern_is_what_reads_well_formed_answers():
    batch = parse_answers([answer(3), answer(3, think="a<b")], STRICT)
    assert batch.well_formed[0] is not None and batch.well_formed[1] is None
    assert batch.moves.tolist() == [3, 3] and batch.format_ok.all()


@pytest.mark.parametrize(
    ("actions", "given"), [(None, "a NoneType"), ("<move>4</move>", "a str"), (["<move>4</move>"], "1 answers")]
)
def test_step_names_what_it_was_given_instead_of_one_answer_per_game(actions, given):
    envs = gym.make_vec("arena/TicTacToe-v0", num_envs=2)
    envs.reset(seed=0)
    with pytest.raises(ArenaError) as info:
        envs.step(actions)
    assert str(info.value) == f"step() takes a sequence of 2 answers, one per game; got {given}"


def test_a_long_move_number_is_named_as_written_in_both_envs():
    answer = "<think></think><move>999999999999</move>"
    env = TextGameEnv(invalid_move="retry")
    env.reset(seed=0)
    obs, *_, info = env.step(answer)
    assert info["invalid_reason"] == "illegal move 999999999999: cells are numbered 0-8"
    assert "(illegal move 999999999999: cells are numbered 0-8). Try again." in obs
    envs = gym.make_vec("arena/TicTacToe-v0", num_envs=1)
    envs.reset(seed=0)
    *_, info = envs.step([answer])
    assert info["invalid_reason"][0] == "illegal move 999999999999: cells are numbered 0-8"
    too_long = "<think></think><move>" + "9" * 19 + "</move>"
    assert parse_answer(too_long, AnswerFormat()).error == (
        "move '9999999999999999999' has more than 18 digits: no board has that many cells"
    )
