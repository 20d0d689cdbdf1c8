"""Rollouts of a real chat model (SmolLM2-135M-Instruct): the token layout is the chat template's own rendering.

The expected ids and masks are computed from `tokenizer.apply_chat_template` on the game as a conversation
(system, user, assistant, user, ...), never from our ChatFormatter: the assistant's content, and the end-of-turn
token when the model generated it, are model tokens (mask 1); everything else is env text (mask 0).
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from arena.env import EnvConfig, TextGameEnv  # noqa: E402
from arena.generation import TransformersBackend  # noqa: E402
from arena.training.rollout import ChatFormatter, GameRunner  # noqa: E402

# The env's system prompt (the rules and the answer format): the same for every tic-tac-toe episode.
SYSTEM = TextGameEnv("tictactoe").reset(seed=0)[1]["messages"][0]["content"]


class FixedAnswers:
    """Answers every turn with the next text of `answers` (canonical token ids, ended by the end-of-turn token)."""

    def __init__(self, tokenizer, answers):
        self.tokenizer, self.answers, self.n = tokenizer, list(answers), 0
        self.stop_ids = (tokenizer.eos_token_id,)

    def generate(self, contexts, *, max_new_tokens, temperature, top_p, seed, **_):
        out = []
        for _ctx in contexts:
            ids = self.tokenizer.encode(self.answers[self.n % len(self.answers)], add_special_tokens=False)
            self.n += 1
            ids.append(self.tokenizer.eos_token_id)
            out.append((ids, [0.0] * len(ids)))
        return out


def conversation(episode, system):
    """The game as the chat the template renders: system, then each turn's prompt and the model's answer."""
    messages = [{"role": "system", "content": system}]
    for turn in episode.transcript:
        messages += [{"role": "user", "content": turn["prompt"]}, {"role": "assistant", "content": turn["completion"]}]
    return messages


def template_layout(tokenizer, messages, ended):
    """Token ids of the rendered conversation, and a mask: 1 on each assistant content (with its end-of-turn
    token where `ended` says the model generated it), from character offsets in the template's rendering."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spans, k = [], 0
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
        assert text[start : start + len(message["content"])] == message["content"]
        end = start + len(message["content"])
        if ended[k]:
            end += len(tokenizer.eos_token)
            assert text[start + len(message["content"]) : end] == tokenizer.eos_token
        spans.append((start, end))
        k += 1
    mask = [int(any(s <= a and b <= e for s, e in spans)) for a, b in enc["offset_mapping"]]
    return enc["input_ids"], mask


def check_game_layout(tokenizer, episode, system):
    ids, mask = episode.prompt_ids + episode.completion_ids, [0] * len(episode.prompt_ids) + episode.env_mask
    ended = [t["ended"] for t in episode.transcript]
    want_ids, want_mask = template_layout(tokenizer, conversation(episode, system), ended)
    # The template closes the last turn too ("<|im_end|>\n"): the rollout stops at the model's last token.
    assert want_ids[: len(ids)] == ids
    assert want_mask[: len(ids)] == mask
    assert tokenizer.decode(want_ids[len(ids) :]) in ("\n", tokenizer.eos_token + "\n")


def play(runner, backend, seats=("first", "second"), **kwargs):
    options = [{"opponent": "random", "agent_seat": seat, "opponent_seed": 5} for seat in seats]
    return runner.play(backend, options, seed=1, max_new_tokens=kwargs.pop("max_new_tokens", 24), **kwargs)


def mark_ended(episodes, tokenizer):
    """Note in each transcript turn whether the model's own tokens ended its turn (read from the mask runs)."""
    for ep in episodes:
        runs, prev = [], 0
        for tok, m in zip(ep.completion_ids, ep.env_mask, strict=True):
            if m and not prev:
                runs.append([])
            if m:
                runs[-1].append(tok)
            prev = m
        assert len(runs) == len(ep.transcript)
        for turn, run in zip(ep.transcript, runs, strict=True):
            turn["ended"] = run[-1] == tokenizer.eos_token_id


def test_reply_after_an_answer_that_the_next_board_repeats_is_that_board():
    """SmolLM2 answered "2 3"; the next prompt lists "Legal moves: 0 2 3 6": the reply must be the new board."""
    from arena.models.tiny import build_tokenizer, chat_template

    tokenizer = build_tokenizer()
    tokenizer.chat_template = chat_template(legal_moves=True)  # the list is where the answer's text repeats
    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": "x"}]
    obs = "0 1 2\n3 X 5\n6 O 8\nYou play X. Legal moves: 0 1 2 3 5 6 8"
    reply = tokenizer.decode(ChatFormatter(tokenizer).reply_ids(messages, "2 3", obs, ended_turn=False))
    assert "Legal moves: 0 1 2 3 5 6 8" in reply and reply.index("0 1 2") < reply.index("X")
    empty = tokenizer.decode(ChatFormatter(tokenizer).reply_ids(messages, "", obs, ended_turn=False))
    assert empty.count("You play") == 1 and "rules" not in empty  # no second system prompt


@pytest.mark.slow
def test_smollm2_game_rollout_with_answers_the_board_repeats(smollm2):
    _, tokenizer = smollm2
    runner = GameRunner("tictactoe", EnvConfig(invalid_move="random"), tokenizer)
    # Untagged answers (as SmolLM2 gives zero-shot) that also occur in the next prompt's legal moves; and an
    # empty answer; the random policy keeps the game going, so there are several turns.
    backend = FixedAnswers(tokenizer, ["2 3", "", "<think>x</think><move>4</move>", "5 6 8"])
    episodes = play(runner, backend, temperature=1.0)
    mark_ended(episodes, tokenizer)
    for ep in episodes:
        assert len(ep.transcript) >= 3
        check_game_layout(tokenizer, ep, SYSTEM)


@pytest.mark.slow
def test_smollm2_game_rollout_sampled_by_the_model(smollm2):
    model, tokenizer = smollm2
    runner = GameRunner("tictactoe", EnvConfig(invalid_move="random"), tokenizer)
    backend = TransformersBackend(model, tokenizer, stop_texts=["</move>"])
    episodes = play(runner, backend, temperature=1.0, max_new_tokens=16)
    mark_ended(episodes, tokenizer)
    for ep in episodes:
        assert len(ep.transcript) >= 2 and ep.info["result"] in ("win", "draw", "loss")
        check_game_layout(tokenizer, ep, SYSTEM)


@pytest.mark.slow
def test_smollm2_turn_rollout_is_the_templates_prompt_then_the_answer(smollm2):
    model, tokenizer = smollm2
    runner = GameRunner("tictactoe", EnvConfig(), tokenizer)
    backend = TransformersBackend(model, tokenizer, stop_texts=["</move>"])
    options = [{"opponent": "random", "agent_seat": "random", "opponent_seed": 2}]
    episodes = runner.play_decisions(
        backend, options, 2, seed=0, max_new_tokens=12, temperature=1.0, continuation_temperature=0.0
    )
    assert len(episodes) == 2 and episodes[0].prompt_ids == episodes[1].prompt_ids  # one position per group
    for ep in episodes:
        first = ep.transcript[0]
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": first["prompt"]},
        ]
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert ep.prompt_ids == tokenizer(prompt, add_special_tokens=False)["input_ids"]
        assert ep.env_mask == [1] * len(ep.completion_ids)
        assert tokenizer.decode(ep.completion_ids, skip_special_tokens=True) == first["completion"]
