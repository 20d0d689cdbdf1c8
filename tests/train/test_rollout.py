"""Whole-game rollouts: tokens aligned with the env mask, groups share a spec, exploration schedule."""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("transformers")

from arena.games import TicTacToe  # noqa: E402
from arena.generation import TransformersBackend, batch_seed  # noqa: E402
from arena.models.tiny import build_tiny_model  # noqa: E402
from arena.training.config import ExplorationSection, load_train_config  # noqa: E402
from arena.training.exploration import Exploration  # noqa: E402
from arena.training.grpo import ArenaRollout  # noqa: E402
from arena.training.rollout import ChatFormatter, GameRunner  # noqa: E402
from opponents import RandomOpponent  # noqa: E402


class ScriptedBackend:
    """Answers each context with a legal-looking move, so games run to the end; ids come from the tokenizer."""

    def __init__(self, tokenizer, moves=range(9)):
        self.tokenizer, self.moves = tokenizer, list(moves)
        self.stop_ids = (tokenizer.eos_token_id,)
        self.calls = 0

    def generate(self, contexts, *, max_new_tokens, temperature, top_p, seed):
        self.calls += 1
        out = []
        for ctx in contexts:
            # The tiny model's prompt shows the board without the list of legal moves: a free cell shows its number
            # (one digit, the spaces before digits dropped).
            board = self.tokenizer.decode(ctx).rsplit("<|im_end|>", 1)[-1].split("You play")[0]
            legal = [int(x) for x in board if x.isdigit()]
            ids = self.tokenizer.encode(f"<think>{legal[0]}</think>\n<move>{legal[0]}</move>", add_special_tokens=False)
            ids.append(self.tokenizer.eos_token_id)
            out.append((ids, [0.0] * len(ids)))
        return out


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_model(seed=0)


def test_model_tokens_and_env_tokens_are_masked_apart(tiny):
    model, tokenizer = tiny
    config = load_train_config(None)
    runner = GameRunner("tictactoe", config.env, tokenizer)
    options = [{"opponent": "random", "agent_seat": seat, "opponent_seed": 3} for seat in ("first", "second")]
    episodes = runner.play(ScriptedBackend(tokenizer), options, seed=0, max_new_tokens=32, temperature=1.0)
    for ep in episodes:
        assert len(ep.completion_ids) == len(ep.env_mask) == len(ep.logprobs)
        model_text = tokenizer.decode(
            [t for t, m in zip(ep.completion_ids, ep.env_mask, strict=True) if m], skip_special_tokens=True
        )
        env_text = tokenizer.decode([t for t, m in zip(ep.completion_ids, ep.env_mask, strict=True) if not m])
        assert model_text.count("<move>") == len(ep.transcript) == ep.info["agent_turns"]
        assert "<move>" not in env_text and "You play" in env_text  # boards and prompts only, no answers
        assert ep.env_mask[0] == 1 and ep.env_mask[-1] == 1  # the sequence starts and ends with the model
        assert ep.info["result"] in ("win", "draw", "loss") and ep.reward == pytest.approx(sum(ep.components.values()))
        # The whole sequence is what the chat template renders for the game as a conversation.
        chat = [{"role": "system", "content": "x"}]
        for turn in ep.transcript:
            chat += [{"role": "user", "content": turn["prompt"]}, {"role": "assistant", "content": turn["completion"]}]
        rendered = tokenizer.apply_chat_template(chat, tokenize=False)
        assert tokenizer.decode(ep.prompt_ids + ep.completion_ids) == rendered.rstrip("\n")


def test_a_game_cut_off_at_the_token_budget_is_scored_as_truncated(tiny):
    model, tokenizer = tiny
    config = load_train_config(None)
    runner = GameRunner("tictactoe", config.env, tokenizer)
    options = [{"opponent": "random", "agent_seat": "first", "opponent_seed": 3}]
    whole = runner.play(ScriptedBackend(tokenizer), options, seed=0, max_new_tokens=32, temperature=1.0)[0]
    budget = len(whole.prompt_ids) + 1  # reached by the first answer
    cut = runner.play(
        ScriptedBackend(tokenizer), options, seed=0, max_new_tokens=32, temperature=1.0, max_sequence_tokens=budget
    )[0]
    assert whole.result in ("win", "draw", "loss") and len(whole.transcript) > 1
    assert cut.result == "truncated" and len(cut.transcript) == 1 and cut.env_mask[-1] == 1
    outcome = cut.outcome
    assert (outcome.result, outcome.agent_turns, outcome.invalid_moves) == ("truncated", 1, 0)
    assert list(outcome.moves) == cut.info["moves"] and len(outcome.moves) == 2  # the answer and the reply
    expected = config.env.rewards.components("truncated", 1, 1, 0)
    assert cut.components == expected and cut.reward == pytest.approx(sum(expected.values()))


def test_real_generation_respects_budget_and_stops(tiny):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, stop_texts=["</move>"], logprobs=True)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "0 1 2"}], add_generation_prompt=True, tokenize=False
    )
    ctx = tokenizer.encode(text, add_special_tokens=False)
    out = backend.generate([ctx, ctx[2:]], max_new_tokens=5, temperature=1.0, top_p=1.0, seed=0)
    assert all(1 <= len(ids) <= 5 and len(lps) == len(ids) for ids, lps in out)
    assert all(lp <= 0.0 for _, lps in out for lp in lps)
    again = backend.generate([ctx, ctx[2:]], max_new_tokens=5, temperature=1.0, top_p=1.0, seed=0)
    assert again == out  # seeded


def test_repeated_contexts_share_one_prefill(tiny, monkeypatch):
    """Rows that repeat a context are prefilled once (a group's members read one prompt); the answers are the
    same tokens as with a prefill per row, greedy and sampled, and the log-probabilities agree."""
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, stop_texts=["</move>"], logprobs=True)
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": c}], add_generation_prompt=True, tokenize=False)
        for c in ("You play X.\n0 1 2\n3 4 5\n6 7 8", "You play O.\nX 1 2\n3 4 5\n6 7 8")
    ]
    a, b = (tokenizer.encode(t, add_special_tokens=False) for t in texts)
    contexts = [a, a, b[1:], a, b[1:], b[1:]]  # two lengths: left padding differs between the distinct rows
    rows: list[int] = []
    forward = model.forward

    @functools.wraps(forward)  # keeps the signature the backend reads
    def counting(*args, **kwargs):
        if kwargs.get("input_ids") is not None and kwargs["input_ids"].shape[1] > 1:
            rows.append(kwargs["input_ids"].shape[0])
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", counting)
    for temperature in (0.0, 1.0):
        shared = backend.generate(contexts, max_new_tokens=8, temperature=temperature, top_p=1.0, seed=3)
        assert rows == [2], rows  # the one prefill forward: a row for each distinct context
        rows.clear()
        with monkeypatch.context() as m:
            m.setattr(backend, "_shared_prefill", lambda *args: {})
            each = backend.generate(contexts, max_new_tokens=8, temperature=temperature, top_p=1.0, seed=3)
        assert rows == [6]
        rows.clear()
        assert [ids for ids, _ in shared] == [ids for ids, _ in each]
        for (_, lp_shared), (_, lp_each) in zip(shared, each, strict=True):
            assert lp_shared == pytest.approx(lp_each, abs=1e-4)
    # Nothing repeats: one prefill per row, as before.
    backend.generate([a, b], max_new_tokens=2, temperature=0.0, top_p=1.0, seed=0)
    assert rows == [2]


def test_rollout_func_gives_each_group_one_spec(tiny, tmp_path):
    model, tokenizer = tiny
    config = load_train_config(
        None, ["--curriculum", "{kind: fixed, opponents: {random: 1, depth-1: 1}}", "--eval.transcripts_every", "1"]
    )
    rollout = ArenaRollout(config, tokenizer, tmp_path)
    rollout.runner.play = _record(rollout.runner.play)
    trainer = SimpleNamespace(
        num_generations=4,
        state=SimpleNamespace(global_step=0),
        accelerator=SimpleNamespace(unwrap_model=lambda m: m),
        model=model,
        args=SimpleNamespace(off_policy_mask_threshold=None),
    )
    prompts = [p for p in ("a", "b", "c") for _ in range(4)]  # TRL repeats each prompt once per group member
    rollout._backend = lambda trainer, temperature, model: ScriptedBackend(tokenizer)
    modes = []
    play = rollout.runner.play
    rollout.runner.play = lambda *args, **kwargs: modes.append(model.training) or play(*args, **kwargs)
    rollout.runner.play.calls = play.calls
    model.train()
    out = rollout(prompts, trainer)
    assert modes == [False] and model.training  # plays in eval mode (set once), then back to training mode
    assert set(out) == {"prompt_ids", "completion_ids", "logprobs", "env_mask", "episode_reward"}
    assert all(len(v) == 12 for v in out.values())
    options = rollout.runner.play.calls[0]
    for g in range(3):
        group = options[g * 4 : (g + 1) * 4]
        assert all(o == group[0] for o in group)  # same opponent, seat, start and opponent seed
    assert len({str(options[g * 4]) for g in range(3)}) == 3
    # Same spec and same (scripted) answers: the group's games are identical.
    assert len({tuple(out["completion_ids"][i]) for i in range(4)}) == 1
    metrics = rollout.pending
    for key in ("games/win_rate", "games/format_rate", "reward/outcome", "exploration/temperature", "curriculum/games"):
        assert key in metrics
    assert rollout.reward(prompts, [None] * 12, out["episode_reward"]) == out["episode_reward"]
    assert (tmp_path / "transcripts" / "step-000000.txt").read_text().count("=== step 0") >= 1
    assert rollout.curriculum.games_seen == 12


def _record(play):
    def wrapper(backend, options, **kwargs):
        wrapper.calls.append(list(options))
        return play(backend, options, **kwargs)

    wrapper.calls = []
    return wrapper


def test_exploration_schedule_and_wander():
    explore = Exploration(
        ExplorationSection(
            schedule=[{"step": 0, "temperature": 1.0}, {"step": 10, "temperature": 0.5}],
            wander={"enabled": True, "patience": 3, "step": 0.2, "cap": 1.2, "smoothing": 1},
        )
    )
    assert explore.temperature(0) == 1.0 and explore.temperature(5) == pytest.approx(0.75)
    assert explore.temperature(50) == 0.5
    for step in range(12):
        explore.observe(step, 0.5 if step else 0.6)  # a plateau after the first step
    assert explore.boost > 0 and explore.events[0]["event"] == "wander"
    assert explore.temperature(50) <= 1.2
    explore.observe(13, 0.9)  # recovery: a new best steps the boost back down
    assert explore.events[-1]["event"] == "cool"
    state = explore.state_dict()
    other = Exploration(explore.config)
    other.load_state_dict(state)
    assert other.state_dict() == state


def test_exploration_off_keeps_temperature():
    explore = Exploration(ExplorationSection(temperature=0.7))
    for step in range(100):
        explore.observe(step, 0.0)
    assert explore.temperature(99) == 0.7 and explore.events == []


def test_start_pools_survive_a_checkpoint(tiny, tmp_path):
    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn", "--grpo.path_starts", "0.5"])
    rollout = ArenaRollout(config, tokenizer, tmp_path)
    rollout.runner.path_positions.extend([([], "second"), ([4, 0], "first")])
    rollout.runner.loss_positions.extend([([4, 0, 8], "second", "perfect")])
    state = rollout.state_dict()
    other = ArenaRollout(config, tokenizer, tmp_path)
    other.load_state_dict(json.loads(json.dumps(state)))  # as arena_state.json stores it
    assert list(other.runner.path_positions) == [([], "second"), ([4, 0], "first")]
    assert list(other.runner.loss_positions) == [([4, 0, 8], "second", "perfect")]
    assert other.state_dict() == state


def test_rng_streams_differ_per_rank(tiny, tmp_path):
    _, tokenizer = tiny
    config = load_train_config(None)
    a, b = ArenaRollout(config, tokenizer, tmp_path, rank=0), ArenaRollout(config, tokenizer, tmp_path, rank=1)
    assert a.rng.integers(1 << 30) != b.rng.integers(1 << 30)
    assert isinstance(a.rng, np.random.Generator)


def test_turn_rollouts_share_one_position_per_group(tiny):
    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn"])
    runner = GameRunner("tictactoe", config.env, tokenizer)
    options = [
        {"opponent": "random", "agent_seat": "first", "opponent_seed": 1, "start": []},
        {"opponent": "depth-1", "agent_seat": "second", "opponent_seed": 2, "start": []},
    ]
    backend = ScriptedBackend(tokenizer)
    episodes = runner.play_decisions(backend, options, 4, seed=0, max_new_tokens=32, temperature=1.0)
    assert len(episodes) == 8
    for g in range(2):
        group = episodes[g * 4 : (g + 1) * 4]
        assert len({tuple(ep.prompt_ids) for ep in group}) == 1  # one position per group
        assert len({str(ep.options) for ep in group}) == 1
        assert group[0].options["opponent"] == options[g]["opponent"]
    for ep in episodes:
        # Only the member's own answer is trained on; the rest of its game only scores it.
        assert ep.env_mask == [1] * len(ep.completion_ids) and len(ep.logprobs) == len(ep.completion_ids)
        assert tokenizer.decode(ep.completion_ids, skip_special_tokens=True) == ep.transcript[0]["completion"]
        assert ep.info["result"] in ("win", "draw", "loss")
        assert ep.reward == pytest.approx(sum(ep.components.values()))
        assert ep.components["format"] == pytest.approx(0.2) and ep.components["invalid"] == 0.0
    # Positions come from random prefixes of different depths, and the agent is always the side to move.
    starts = {len(ep.options["start"]) for ep in episodes}
    assert all(isinstance(n, int) for n in starts)


class _SampledLikeAModel(RandomOpponent):
    """Chooses as a model opponent samples: one seed for the whole batch, drawn from every game's generator, so a
    game's move depends on the games it is chosen with (and alone, `choose`, on its own generator only)."""

    def choose(self, state, rng):
        return self.choose_many([state], [rng])[0]

    def choose_many(self, states, rngs):
        shared = np.random.default_rng(batch_seed(rngs))
        return [moves[int(shared.integers(len(moves)))] for moves in map(self.game.legal_moves, states)]


def test_a_group_answers_one_position_against_an_opponent_that_samples_in_batches(tiny):
    # Each member's opening reply must be its own game's draw, not one batched with the other games': else the
    # members of a group answer different positions (and a random decision point, checked with one reply, could
    # start where another reply ends the game).
    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn"])
    runner = GameRunner("tictactoe", config.env, tokenizer)
    runner._opponents["random"] = _SampledLikeAModel(TicTacToe())
    options = [{"opponent": "random", "agent_seat": "second", "opponent_seed": g} for g in range(8)]
    episodes = runner.play_decisions(ScriptedBackend(tokenizer), options, 4, seed=0, max_new_tokens=32, temperature=1)
    for g in range(8):
        group = episodes[g * 4 : (g + 1) * 4]
        assert len({tuple(ep.prompt_ids) for ep in group}) == 1


def test_turn_rollouts_ask_a_curriculum_start_as_given(tiny):
    """A puzzle (or opening) start is the position asked about: random plies on top would mostly undo it. The
    empty board is extended by random plies, so groups see positions of many depths."""
    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn"])
    runner = GameRunner("tictactoe", config.env, tokenizer)
    win_in_1 = [0, 3, 1, 4]  # X holds 0 and 1, O holds 3 and 4: X to move, 2 wins
    options = [{"opponent": "random", "agent_seat": "first", "opponent_seed": g, "start": win_in_1} for g in range(8)]
    episodes = runner.play_decisions(ScriptedBackend(tokenizer), options, 2, seed=0, max_new_tokens=32, temperature=1.0)
    assert all(ep.options["start"] == win_in_1 for ep in episodes)
    empty = [{**opts, "start": []} for opts in options]
    episodes = runner.play_decisions(ScriptedBackend(tokenizer), empty, 2, seed=0, max_new_tokens=32, temperature=1.0)
    assert len({len(ep.options["start"]) for ep in episodes}) > 1


def test_path_starts_ask_positions_of_the_policys_own_games(tiny):
    """With path_starts a group answers the game's start or a position where the agent was to move in the
    whole games of groups that answered the start (the seat follows the side to move); a curriculum start is
    still asked as given, and without path_starts the pool is left alone."""
    from arena.games import make_game

    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn"])
    runner = GameRunner("tictactoe", config.env, tokenizer)
    game = make_game("tictactoe")
    seats = ("first", "second")
    options = [{"opponent": "random", "agent_seat": seats[g % 2], "opponent_seed": g, "start": []} for g in range(4)]
    backend = ScriptedBackend(tokenizer)
    first = runner.play_decisions(backend, options, 2, seed=0, max_new_tokens=32, temperature=1.0, path_starts=1.0)
    # An empty pool: every group answers the start, so every member played a whole game from it.
    assert all(ep.options["start"] == [] and len(ep.info["moves"]) >= 5 for ep in first)
    pool = list(runner.path_positions)
    assert sorted(m for m, _ in pool if not m) == [[]] * 8  # each game's start, once per game
    later = [(m, s) for m, s in pool if m]
    assert len(later) == sum(ep.info["agent_turns"] - 1 for ep in first)  # every later turn of those games
    for moves, seat in later:
        state = game.play(moves)
        assert not game.is_over(state) and seats[game.to_move(state)] == seat
        assert any(ep.info["moves"][: len(moves)] == moves for ep in first)  # on a game's path
    puzzle = {"opponent": "random", "agent_seat": "first", "opponent_seed": 9, "start": [0, 3, 1, 4]}
    second = runner.play_decisions(
        backend, [*options, puzzle], 2, seed=1, max_new_tokens=32, temperature=1.0, path_starts=1.0
    )
    asked = [(ep.options["start"], ep.options["agent_seat"]) for ep in second[:-2]]
    assert all(entry in pool for entry in asked) and any(start for start, _ in asked)
    assert all(ep.options["start"] == [0, 3, 1, 4] for ep in second[-2:])
    kept = list(runner.path_positions)
    runner.play_decisions(backend, options, 2, seed=2, max_new_tokens=32, temperature=1.0)
    assert list(runner.path_positions) == kept


def test_loss_starts_ask_again_where_the_policys_play_outs_lost(tiny):
    """With loss_starts, the positions the play-outs' policy moved from in games it lost are kept with the seat
    and the opponent that beat it, and later groups answer them against that opponent; a curriculum start is still
    asked as given, and without loss_starts the pool is neither filled nor drawn from."""
    from arena.games import make_game

    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn"])
    runner = GameRunner("tictactoe", config.env, tokenizer)
    game = make_game("tictactoe")
    seats = ("first", "second")
    backend = ScriptedBackend(tokenizer)  # always the lowest free cell: `perfect` beats it
    perfect = [{"opponent": "perfect", "agent_seat": seats[g % 2], "opponent_seed": g, "start": []} for g in range(6)]
    runner.play_decisions(backend, perfect, 2, seed=0, max_new_tokens=32, temperature=1.0)
    assert not runner.loss_positions  # not asked for: nothing kept
    first = runner.play_decisions(backend, perfect, 2, seed=0, max_new_tokens=32, temperature=1.0, loss_starts=1.0)
    # An empty pool: every group answered a random position (a start of several lengths), against its own opponent.
    lost = [ep for ep in first if ep.info["result"] == "loss"]
    assert lost and len({len(ep.options["start"]) for ep in first}) > 1
    pool = list(runner.loss_positions)
    # Every position a lost game's play-out moved from (its answers after the group's own), once per game.
    assert len(pool) == sum(ep.info["agent_turns"] - 1 for ep in lost)
    for moves, seat, opponent in pool:
        state = game.play(moves)
        assert not game.is_over(state) and seats[game.to_move(state)] == seat and opponent == "perfect"
        assert any(ep.info["moves"][: len(moves)] == moves and len(moves) > len(ep.options["start"]) for ep in lost)
    easy = [{"opponent": "random", "agent_seat": "first", "opponent_seed": g, "start": []} for g in range(4)]
    puzzle = {"opponent": "random", "agent_seat": "first", "opponent_seed": 9, "start": [0, 3, 1, 4]}
    second = runner.play_decisions(
        backend, [*easy, puzzle], 2, seed=1, max_new_tokens=32, temperature=1.0, loss_starts=1.0
    )
    asked = [(ep.options["start"], ep.options["agent_seat"], ep.options["opponent"]) for ep in second[:-2]]
    assert all(entry in pool for entry in asked)
    assert all(ep.info["opponent"] == "perfect" for ep in second[:-2])
    assert all(ep.options["start"] == [0, 3, 1, 4] and ep.info["opponent"] == "random" for ep in second[-2:])
    kept = list(runner.loss_positions)
    again = runner.play_decisions(backend, easy, 2, seed=2, max_new_tokens=32, temperature=1.0, path_starts=1.0)
    assert list(runner.loss_positions) == kept and all(ep.info["opponent"] == "random" for ep in again)


def test_turn_rollout_scores_an_invalid_first_answer(tiny):
    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn"])
    runner = GameRunner("tictactoe", config.env, tokenizer)

    class Bad(ScriptedBackend):
        def generate(self, contexts, **kwargs):
            ids = self.tokenizer.encode("<think>x</think>\n<move>9</move>", add_special_tokens=False)
            return [(ids, [0.0] * len(ids)) for _ in contexts]

    (ep,) = runner.play_decisions(
        Bad(tokenizer), [{"opponent": "random", "agent_seat": "first", "opponent_seed": 0}], 1,
        seed=0, max_new_tokens=16, temperature=1.0,
    )  # fmt: skip
    assert ep.info["result"] == "loss" and ep.components == {"outcome": 0.0, "format": 0.2, "invalid": -0.1}


def test_vllm_backend_adapts_trl_generation():
    """vLLM cannot run here; the adapter around TRL's `vllm_generation.generate` is checked with a stand-in."""
    from arena.training.grpo import VLLMBackend

    class FakeGeneration:
        temperature = top_p = max_completion_length = None

        def generate(self, prompts, images, num_generations):
            assert images is None and num_generations == 1
            self.seen = prompts
            completions = [[7, 8, 9][: 1 + i] for i in range(len(prompts))]
            logprobs = [[[-0.5]] * len(c) for c in completions]
            logprobs[0][0] = [None]  # vLLM reports a token it could not score as None
            return prompts, completions, logprobs, None

    trainer = SimpleNamespace(vllm_generation=FakeGeneration())
    backend = VLLMBackend(trainer, temperature=1.3)
    assert trainer.vllm_generation.temperature == 1.3
    out = backend.generate([[1, 2], [3]], max_new_tokens=5, temperature=0.9, top_p=0.95, seed=0)
    gen = trainer.vllm_generation
    assert gen.seen == [[1, 2], [3]] and gen.max_completion_length == 5
    assert (gen.temperature, gen.top_p) == (0.9, 0.95)
    assert out == [([7], [0.0]), ([7, 8], [-0.5, -0.5])]


def test_turn_rollouts_sample_the_first_answer_and_the_play_out_apart(tiny):
    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn"])
    runner = GameRunner("tictactoe", config.env, tokenizer)

    class Recording(ScriptedBackend):
        def generate(self, contexts, **kwargs):
            self.seen = [*getattr(self, "seen", []), {k: kwargs.get(k) for k in ("temperature", "move_temperature")}]
            return super().generate(contexts, **{k: v for k, v in kwargs.items() if k != "move_temperature"})

    backend = Recording(tokenizer)
    options = [{"opponent": "random", "agent_seat": "first", "opponent_seed": 1, "start": []}]
    runner.play_decisions(
        backend, options, 4, seed=0, max_new_tokens=32, temperature=1.0, max_prefix_plies=0,
        move_temperature=2.0, continuation_temperature=0.0,
    )  # fmt: skip
    assert backend.seen[0] == {"temperature": 1.0, "move_temperature": 2.0}  # the answers trained on
    assert len(backend.seen) > 1 and all(s == {"temperature": 0.0, "move_temperature": None} for s in backend.seen[1:])


def test_pooled_outcomes_are_the_mean_over_members_with_the_same_move():
    from arena.training.rollout import Episode, _pool_outcomes

    def member(outcome, fmt=0.2, invalid=0.0):
        comps = {"outcome": outcome, "format": fmt, "invalid": invalid}
        return Episode(options={}, prompt_ids=[], components=comps, reward=sum(comps.values()))

    group_a = [member(1.0), member(0.0), member(0.5), member(0.0, fmt=0.0, invalid=-0.1)]
    group_b = [member(0.0), member(1.0), member(1.0), member(0.5)]
    # Group a: two members played 4, one played 0, one made an invalid move; group b: 4 for all but the last.
    _pool_outcomes([*group_a, *group_b], [4, 4, 0, None, 4, 4, 4, 2], group_size=4)
    assert [ep.components["outcome"] for ep in group_a] == [0.5, 0.5, 0.5, 0.0]  # groups never mix
    assert [ep.components["outcome"] for ep in group_b] == pytest.approx([2 / 3, 2 / 3, 2 / 3, 0.5])
    assert group_a[3].reward == pytest.approx(-0.1)  # an invalid answer keeps its own score
    assert all(ep.reward == pytest.approx(sum(ep.components.values())) for ep in [*group_a, *group_b])


def test_generate_ahead_hands_over_games_played_before_the_update_and_saves_the_state_before_them(tiny, tmp_path):
    import copy

    import torch

    model = copy.deepcopy(tiny[0])
    tokenizer = tiny[1]
    common = ["--grpo.max_new_tokens", "12", "--eval.transcripts_every", "0"]
    ahead_config = load_train_config(None, [*common, "--grpo.generate_ahead", "true"])
    plain_config = load_train_config(None, common)
    prompts = [p for p in "ab" for _ in range(2)]

    def call(rollout, policy, step):
        trainer = SimpleNamespace(
            num_generations=2,
            state=SimpleNamespace(global_step=step),
            accelerator=SimpleNamespace(unwrap_model=lambda m: m),
            model=policy,
            args=SimpleNamespace(off_policy_mask_threshold=None),
        )
        return rollout(prompts, trainer)

    def resumable(rollout):  # its state but the seconds its rollouts took
        state = rollout.state_dict()
        return {**state, "totals": state["totals"]["games"]}

    def same_state(a, b):
        return resumable(a) == resumable(b)

    ahead = ArenaRollout(ahead_config, tokenizer, tmp_path / "ahead")
    plain = ArenaRollout(plain_config, tokenizer, tmp_path / "plain")
    try:
        assert call(ahead, model, 0) == call(plain, model, 0)  # the first step's games are played at once
        assert ahead._ahead is not None  # ... and the second step's are in flight
        assert same_state(ahead, plain)  # a checkpoint now records the state before them
        before = copy.deepcopy(model)
        with torch.no_grad():
            for param in model.parameters():
                param.zero_()  # "the update": every logit 0, so sampling is uniform
        second = call(ahead, model, 1)
        assert second == call(plain, before, 1)  # played with the weights from before the update
        updated = ArenaRollout(plain_config, tokenizer, tmp_path / "updated")
        call(updated, before, 0)
        assert call(updated, model, 1)["completion_ids"] != second["completion_ids"]  # the update shows in games
        assert ahead.pending["games/format_rate"] == plain.pending["games/format_rate"]  # its metrics came along
    finally:
        ahead.close()
    assert ahead._pool is None and ahead._ahead is None
    assert same_state(ahead, plain) and not same_state(plain, ArenaRollout(plain_config, tokenizer, tmp_path))


def test_move_temperature_rescales_only_the_tokens_inside_the_move_tag(tiny):
    import torch

    from arena.generation import move_temperature_processor

    _, tokenizer = tiny
    prompt = tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
    answer = tokenizer.encode("<think>You play X.</think>\n<move>4</move>", add_special_tokens=False)
    processor = move_temperature_processor(tokenizer, "move", base=1.0, move=2.0, prompt_width=len(prompt))
    inside = []
    for n in range(len(answer) + 1):  # as generate calls it: once per new token, the row growing each time
        ids = torch.tensor([prompt + answer[:n]])
        scores = processor(ids, torch.ones(1, 5))
        inside.append(bool(scores[0, 0] == 0.5))
    opened = tokenizer.decode(answer).index("<move>")
    flags = [len(tokenizer.decode(answer[:n])) > opened and "</move>" not in tokenizer.decode(answer[:n])
             for n in range(len(answer) + 1)]  # fmt: skip
    assert inside == flags and any(inside) and not inside[-1]


def test_sampling_with_a_move_temperature_keeps_the_answer_format(tiny):
    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, stop_texts=["</move>"])
    context = ChatFormatter(tokenizer).prompt_ids(
        [{"role": "user", "content": "0 1 2\n3 4 5\n6 7 8\nYou play X. Legal moves: 0 1 2 3 4 5 6 7 8"}]
    )
    out = backend.generate([context] * 3, max_new_tokens=8, temperature=1.0, top_p=1.0, seed=0, move_temperature=3.0)
    again = backend.generate([context] * 3, max_new_tokens=8, temperature=1.0, top_p=1.0, seed=0, move_temperature=3.0)
    assert out == again and all(0 < len(ids) <= 8 for ids, _ in out)  # seeded, and within the budget


def test_distinct_moves_try_the_policys_choice_then_untried_legal_moves(tiny):
    import torch

    from arena.generation import DistinctMoves, distinct_moves_processor

    _, tokenizer = tiny
    prompt = tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
    prefix = tokenizer.encode("<think>You play X.</think>\n<move>", add_special_tokens=False)
    digit = {m: tokenizer.convert_tokens_to_ids(str(m)) for m in range(9)}
    # Group 0 (rows 0-3) has three legal moves, so its fourth row samples freely; group 1 (rows 4-5) has two,
    # and the policy's favourite, 4, is illegal there.
    distinct = DistinctMoves(groups=[0, 0, 0, 0, 1, 1], legal=[[0, 4, 8]] * 4 + [[2, 5]] * 2)
    picks = []
    for seed in range(20):
        torch.manual_seed(seed)
        processor = distinct_moves_processor(tokenizer, "move", distinct, temperature=1.0, prompt_width=len(prompt))
        for n in range(len(prefix) + 1):  # as generate calls it: once per new token
            scores = torch.zeros(6, len(tokenizer))
            scores[:, digit[4]] = 10.0  # the policy much prefers 4
            out = processor(torch.tensor([prompt + prefix[:n]] * 6), scores)
            if n < len(prefix):
                assert torch.equal(out[:, digit[4]], torch.full((6,), 10.0))  # before the move: untouched
        allowed = [(row > float("-inf")).nonzero().flatten().tolist() for row in out]
        assert all(len(a) == 1 for a in allowed[:3] + allowed[4:]) and len(allowed[3]) == len(tokenizer)
        picks.append([a[0] for a in allowed[:3] + allowed[4:]])
    # The first row of each group samples the policy itself, so the favourite is tried even where it is illegal.
    assert sum(p[0] == digit[4] for p in picks) >= 18 and sum(p[3] == digit[4] for p in picks) >= 18
    for p in picks:
        if p[0] == digit[4]:  # the others try the untried legal moves, without repeats
            assert sorted(p[:3]) == sorted(digit[m] for m in (0, 4, 8))
        assert p[4] in (digit[2], digit[5])
    assert {p[4] for p in picks} == {digit[2], digit[5]}  # drawn, not fixed


def test_turn_rollouts_ask_for_distinct_moves_on_the_answers_trained_only(tiny):
    _, tokenizer = tiny
    config = load_train_config(None, ["--grpo.rollout", "turn"])
    runner = GameRunner("tictactoe", config.env, tokenizer)

    class Recording(ScriptedBackend):
        def generate(self, contexts, distinct=None, **kwargs):
            self.seen = [*getattr(self, "seen", []), distinct]
            return super().generate(contexts, **kwargs)

    backend = Recording(tokenizer)
    options = [{"opponent": "random", "agent_seat": "first", "opponent_seed": s, "start": [4, 0]} for s in (1, 2)]
    runner.play_decisions(
        backend, options, 3, seed=0, max_new_tokens=32, temperature=1.0, max_prefix_plies=0, distinct_moves=True
    )
    first = backend.seen[0]
    assert list(first.groups) == [0, 0, 0, 1, 1, 1]
    assert [list(m) for m in first.legal] == [[1, 2, 3, 5, 6, 7, 8]] * 6
    assert len(backend.seen) > 1 and all(d is None for d in backend.seen[1:])


def test_distinct_moves_need_turn_rollouts_and_transformers_generation():
    from arena.errors import ArenaError
    from arena.training.grpo import VLLMBackend

    with pytest.raises(ArenaError, match="distinct_moves applies to turn rollouts"):
        load_train_config(None, ["--grpo.rollout", "game", "--grpo.distinct_moves", "true"])
    with pytest.raises(ArenaError, match="path_starts applies to turn rollouts"):
        load_train_config(None, ["--grpo.rollout", "game", "--grpo.path_starts", "0.5"])
    with pytest.raises(ArenaError, match="loss_starts applies to turn rollouts"):
        load_train_config(None, ["--grpo.rollout", "game", "--grpo.loss_starts", "0.5"])
    with pytest.raises(ArenaError, match=r"path_starts \(0.75\) and grpo.loss_starts \(0.5\)"):
        load_train_config(None, ["--grpo.rollout", "turn", "--grpo.path_starts", "0.75", "--grpo.loss_starts", "0.5"])
    backend = VLLMBackend(SimpleNamespace(vllm_generation=SimpleNamespace(temperature=1.0)), temperature=1.0)
    with pytest.raises(ArenaError, match="cannot make a group's answers try distinct moves"):
        backend.generate([[1]], max_new_tokens=2, temperature=1.0, top_p=1.0, seed=0, distinct=object())


@pytest.mark.parametrize(
    ("style", "think"), [("side", "You play X."), ("legal_moves", "0 1 2 3 4 5 6 7 8"), ("empty", "")]
)
def test_warm_up_answers_are_well_formed_random_legal_moves_in_each_think_style(tiny, style, think):
    from arena.env import EnvConfig
    from arena.text import parse_answer
    from arena.training.warmup import warmup_examples

    _, tokenizer = tiny
    config = EnvConfig()
    rows = warmup_examples("tictactoe", config, tokenizer, games=6, seed=0, think=style, per_turn=True)
    moves = set()
    for row in rows:
        answer_ids = [t for t, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]
        answer = tokenizer.decode(answer_ids, skip_special_tokens=True)
        parsed = parse_answer(answer, config.answer)
        assert parsed.format_ok and parsed.move is not None
        moves.add(parsed.move)
    first = tokenizer.decode([t for t, m in zip(rows[0]["input_ids"], rows[0]["completion_mask"], strict=True) if m])
    assert first.startswith(f"<think>{think}</think>")  # X opens the first game, on an empty board
    assert len(moves) > 3  # random moves, not one favourite


def test_sampling_leaves_torchs_global_generator_alone_for_a_step_running_beside_it(tiny):
    """Games played ahead (`grpo.generate_ahead`) sample in a thread while the training step draws from torch's
    global generator (TRL shuffles its batch with `torch.randperm`). Neither may disturb the other: the thread's
    tokens are those of the same seed alone, and the step's draws those of its own seed alone."""
    import threading

    import torch

    from arena.generation import DistinctMoves

    model, tokenizer = tiny
    backend = TransformersBackend(model, tokenizer, stop_texts=["</move>"], logprobs=True)
    context = ChatFormatter(tokenizer).prompt_ids([{"role": "user", "content": "You play X.\n012\n345\n678"}])
    kwargs = dict(
        max_new_tokens=12,
        temperature=1.5,
        top_p=0.95,
        seed=4,
        distinct=DistinctMoves(groups=[0] * 4 + [1] * 4, legal=[list(range(9))] * 8),
    )
    alone = backend.generate([context] * 8, **kwargs)
    beside: list = []
    thread = threading.Thread(target=lambda: beside.extend(backend.generate([context] * 8, **kwargs)))
    torch.manual_seed(1)
    draws = []
    thread.start()
    while thread.is_alive() or len(draws) < 50:
        draws.append(torch.randperm(64).tolist())
    thread.join()
    torch.manual_seed(1)
    assert draws == [torch.randperm(64).tolist() for _ in draws]
    assert beside == alone
