"""The embedded tiny model: builds offline, is deterministic per seed, round-trips through save_pretrained."""

from __future__ import annotations

import os
import re

import pytest

pytest.importorskip("transformers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from arena.env import TextGameEnv  # noqa: E402
from arena.models import build_tiny_model, build_tokenizer, save_tiny_model  # noqa: E402
from arena.models.tiny import INIT_STD  # noqa: E402
from arena.text import LEGAL_MOVES, AnswerFormat, parse_answer  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_model(seed=0)


def _prompt_ids(tokenizer, messages):
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)[
        "input_ids"
    ]


def test_size_and_shape(tiny):
    model, tokenizer = tiny
    n_params = sum(p.numel() for p in model.parameters())
    assert 0.5e6 < n_params < 1.2e6
    assert model.config.model_type == "qwen2"
    assert model.config.num_hidden_layers == 4 and model.config.hidden_size == 128
    assert len(tokenizer) < 128
    assert tokenizer.padding_side == "left"


def test_initial_weights_have_the_tiny_std(tiny):
    # Qwen2's default std (0.02) left the tiny model on a long plateau (docs/training.md); the config records
    # the std, so a saved model says how it was made.
    model, _ = tiny
    assert model.config.initializer_range == INIT_STD == 0.1
    for name in (
        "model.embed_tokens.weight",
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.3.self_attn.q_proj.weight",
    ):
        std = float(model.get_parameter(name).std())
        assert abs(std - INIT_STD) < 0.01, (name, std)
    other, _ = build_tiny_model(seed=0, init_std=0.02)
    assert other.config.initializer_range == 0.02
    assert abs(float(other.get_parameter("model.embed_tokens.weight").std()) - 0.02) < 0.002
    from arena.errors import ArenaError

    with pytest.raises(ArenaError, match="init_std must be a positive number"):
        build_tiny_model(init_std=0.0)


@pytest.mark.parametrize(("game", "layout"), [("tictactoe", None), ("connect_four", None), ("connect_four", "columns")])
def test_prompts_are_short_and_keep_the_board_and_the_side_to_move(tiny, game, layout):
    _, tokenizer = tiny
    env = TextGameEnv(game=game, board_layout=layout)
    for seed in range(10):
        prompt, info = env.reset(seed=seed)
        ids = _prompt_ids(tokenizer, info["messages"])
        # The system prompt, the list of legal moves, the spaces before digits and the chat's role headers are
        # dropped: the prompt is the board and the side to move, then the one token that opens the answer.
        kept, listed = prompt.split(f" {LEGAL_MOVES}")
        assert listed.split() == [str(m) for m in info["legal_moves"]]
        text = tokenizer.decode(ids)
        assert text == _joined(kept) + "<|im_start|>"
        assert len(ids) <= (17 if game == "tictactoe" else 56)


def _joined(text):
    return re.sub(r" (?=[0-9])", "", text)


def test_spaces_before_digits_go_and_each_cell_stays_one_token(tiny):
    _, tokenizer = tiny
    board = "X 1 O\nO X 5\n6 7 X\nYou play O."
    ids = _prompt_ids(tokenizer, [{"role": "user", "content": board}])
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens[:12] == ["X", "1", "ĠO", "Ċ", "O", "ĠX", "5", "Ċ", "6", "7", "ĠX", "Ċ"]
    assert "X1 O\nO X5\n67 X" in tokenizer.decode(ids)
    assistant = [{"role": "user", "content": board}, {"role": "assistant", "content": "<move>1 2</move>"}]
    assert "<move>1 2</move>" in tokenizer.apply_chat_template(assistant, tokenize=False)  # user turns only


def test_a_chat_is_user_turns_and_answers_between_the_two_markers(tiny):
    # No role headers and no system message: "<|im_start|>" opens an answer and "<|im_end|>" (the end-of-turn
    # token generation stops at) closes it, so a game read as one chat stays unambiguous.
    _, tokenizer = tiny
    chat = [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "0 1 2\nYou play X."},
        {"role": "assistant", "content": "<move>0</move>"},
        {"role": "user", "content": "X 1 2\nYou play X."},
    ]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text == "012\nYou play X.<|im_start|><move>0</move><|im_end|>X12\nYou play X.<|im_start|>"
    assert tokenizer.apply_chat_template(chat, tokenize=False).endswith("X12\nYou play X.")
    assert tokenizer.eos_token == "<|im_end|>"


def test_a_game_that_writes_two_digit_numbers_keeps_its_spaces():
    from small_games import register_small_games

    register_small_games()
    tokenizer = build_tokenizer("test_small_othello")  # 12 cells: its lists of legal moves write 10 and 11
    turn = "B B B .\n. B W .\n. . . .\nYou play W. Legal moves: 4 10 11"
    assert turn in tokenizer.decode(_prompt_ids(tokenizer, [{"role": "user", "content": turn}]))


def test_template_with_the_list_keeps_every_user_turn_whole(tiny):
    _, tokenizer = tiny
    from arena.models.tiny import chat_template

    listed = "You play O. Legal moves: 0 1 2\n0 1 2\nX 4 5"  # the status line first (a calibration layout)
    messages = [{"role": "user", "content": listed}]
    dropped = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert "You play O.\n012\nX45<|im_start|>" in dropped  # only the list goes, the lines after it stay
    kept = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, chat_template=chat_template(legal_moves=True)
    )
    assert f"{listed}<|im_start|>" in kept


def test_a_game_whose_board_hides_its_legal_moves_keeps_the_list():
    from small_games import register_small_games

    register_small_games()
    tokenizer = build_tokenizer("test_small_othello")
    env = TextGameEnv(game="test_small_othello")
    assert not env.renderer.board_shows_legal_moves
    prompt, info = env.reset(seed=0)
    assert prompt in tokenizer.decode(_prompt_ids(tokenizer, info["messages"]))  # the list stays: legality is hidden


def test_game_over_turn_keeps_its_text(tiny):
    _, tokenizer = tiny
    env = TextGameEnv(game="tictactoe", opponent="random")
    prompt, info = env.reset(seed=0)
    done = False
    while not done:
        prompt, _, done, _, info = env.step(f"<think></think><move>{info['legal_moves'][0]}</move>")
    assert "\nGame over." in prompt  # the board, then the status line
    assert _joined(prompt) in tokenizer.decode(_prompt_ids(tokenizer, [{"role": "user", "content": prompt}]))


def test_answer_round_trip_keeps_tags(tiny):
    _, tokenizer = tiny
    fmt = AnswerFormat()
    answer = fmt.example("4 0 8", 4)
    ids = tokenizer(answer)["input_ids"] + [tokenizer.eos_token_id]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    assert text == answer
    assert parse_answer(text, fmt).move == 4
    tags = tokenizer.convert_tokens_to_ids(["<think>", "</think>", "<move>", "</move>"])
    assert all(isinstance(t, int) and t != tokenizer.unk_token_id for t in tags)


def test_the_text_between_tags_is_one_token(tiny):
    # An empty think and the move's opening tag are one token, a think's closing tag and the move's another: an
    # answer with an empty think is three tokens before the end of the turn, and a think of any text keeps it.
    _, tokenizer = tiny
    fmt = AnswerFormat()
    pieces = [tokenizer.decode([i]) for i in tokenizer.encode(fmt.example("", 4), add_special_tokens=False)]
    assert pieces == ["<think></think>\n<move>", "4", "</move>"]
    for think in ("You play X.", " ", "4 0 8"):
        ids = tokenizer.encode(fmt.example(think, 7), add_special_tokens=False)
        assert tokenizer.decode(ids) == fmt.example(think, 7)
        assert [tokenizer.decode([i]) for i in ids][-3:] == ["</think>\n<move>", "7", "</move>"]
    # Without the newline the tags stay tokens of their own, and the answer reads the same.
    loose = "<think></think><move>4</move>"
    assert [tokenizer.decode([i]) for i in tokenizer.encode(loose, add_special_tokens=False)] == [
        "<think>",
        "</think>",
        "<move>",
        "4",
        "</move>",
    ]
    assert parse_answer(loose, fmt).move == 4


def test_same_seed_same_weights_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, _ = build_tiny_model(seed=3)
    after = torch.rand(1)
    b, _ = build_tiny_model(seed=3)
    c, _ = build_tiny_model(seed=4)
    assert torch.equal(before, after)
    wa, wb, wc = (m.model.embed_tokens.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_vocabulary_same_for_builtin_games():
    assert build_tokenizer("tictactoe").get_vocab() == build_tokenizer("connect_four").get_vocab()


def test_save_and_load_with_auto_classes(tmp_path, tiny):
    model, tokenizer = tiny
    path = save_tiny_model(tmp_path / "tiny", seed=0)
    loaded = AutoModelForCausalLM.from_pretrained(path)
    loaded_tok = AutoTokenizer.from_pretrained(path)
    env = TextGameEnv(game="tictactoe")
    _, info = env.reset(seed=1)
    ids = _prompt_ids(tokenizer, info["messages"])
    assert _prompt_ids(loaded_tok, info["messages"]) == ids
    assert loaded_tok.get_vocab() == tokenizer.get_vocab()
    batch = torch.tensor([ids])
    with torch.no_grad():
        assert torch.allclose(model(batch).logits, loaded(batch).logits, atol=1e-6)
    out = loaded.generate(batch, max_new_tokens=5, do_sample=False)
    assert out.shape[1] <= len(ids) + 5
    assert not any(p.suffix == ".bin" for p in path.iterdir())


def test_bad_seed():
    from arena.errors import ArenaError

    with pytest.raises(ArenaError, match="non-negative"):
        build_tiny_model(seed=-1)


def test_layers_set_the_depth_only(tiny):
    from arena.errors import ArenaError
    from arena.training.config import load_train_config

    model, _ = tiny
    shallow, _ = build_tiny_model(seed=0, layers=2)
    assert shallow.config.num_hidden_layers == 2 and shallow.config.hidden_size == model.config.hidden_size
    per_layer = sum(p.numel() for p in model.model.layers[0].parameters())
    assert sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in shallow.parameters()) == 2 * per_layer
    with pytest.raises(ArenaError, match="layers must be a positive integer"):
        build_tiny_model(seed=0, layers=0)
    assert load_train_config(None, ["--model.tiny_layers", "2"]).model.tiny_layers == 2
    with pytest.raises(ArenaError, match="tiny_layers shapes the embedded model only"):
        load_train_config(None, ["--model.tiny_layers", "2", "--model.name_or_path", "org/some-model"])
