"""The embedded default model: a tiny Qwen2-architecture causal LM and a small tokenizer, built in code.

Why it looks like this:

- No model hub is reachable on the machines this project runs on, and a user without a GPU must still be able to
  run training and evaluation end to end. So the model is built from a config with seeded random weights, and
  the tokenizer is built with the `tokenizers` library; nothing is downloaded and no weight file lives in git.
- Its initial weights have std 0.1 (`INIT_STD`), not Qwen2's 0.02: at this width 0.02 leaves it on a long
  plateau before it reads the board (docs/training.md, "The initial weights held the tiny model back").
- Training on 2 CPU cores is time-bound, so sequences must be short. The vocabulary (100 tokens) holds only what
  the env's user turns and the answer format use: cell symbols, digits, the words of "You play X. Legal moves:
  ...", the answer tags and the chat markers, so an empty tic-tac-toe board prompt is 17 tokens and an answer
  3 (an empty think) to 21 (a think listing nine moves). Characters outside it are dropped when encoding
  (there is no unknown token in byte-level BPE).
- The answer format's fixed text from one tag to the next is one token: "<think></think>\\n<move>" (an empty
  think and the move's opening tag) and "</think>\\n<move>" (`answer_joins`). An answer with an empty think is
  then 3 tokens and the end of the turn, where the tags alone made it 7: every turn of a play-out generates it
  anew, one forward pass a token (docs/training.md, "The text between tags as one token"). Each tag is still a
  token of its own, so an answer written without the newline reads the same.
- The chat template drops a user turn's list of legal moves when the game's board shows them
  (`Renderer.board_shows_legal_moves`: a free tic-tac-toe cell shows its number, a full connect four column a
  stone in its top row; a plug-in game keeps its list unless its renderer says so). The list was 40% of a
  tic-tac-toe prompt, and a GRPO step on CPU is bound by reading prompts (every turn of a play-out reads one
  anew), so the step costs about a third less (docs/training.md, "Prompts without the list of legal moves").
- The chat template also drops each space before a digit in a user turn ("0 1 2" becomes "012"): the Qwen2
  pre-tokenizer makes such a space a token of its own, so an empty tic-tac-toe board was 30 tokens, 6 of them
  spaces. Each cell is still one token ("X1 O" is "X", "1", " O"), and connect four's column numbers become as
  many tokens as its rows have cells. A GRPO step of the main job took 7-13% less time in paired runs
  (docs/training.md, "Boards without spaces between digits"). It is left out for a game that writes numbers of
  two digits.
- Transformers loads any `qwen2` checkpoint's tokenizer as `Qwen2Tokenizer` (a byte-level BPE with a fixed
  pre-tokenizer), so the tiny tokenizer is one: anything else would be rebuilt wrongly on load.
- The chat template drops the system message: its English rules would be mostly unknown characters and would
  triple the prompt length, and the tiny model learns the rules from rewards, not from reading them.
- The answer tags are added tokens that are not special, so decoding with `skip_special_tokens=True` (as TRL
  does) keeps them.
- The chat template writes no role headers: a user turn is its text, and an answer is written between
  "<|im_start|>" and "<|im_end|>" (the end-of-turn token generation stops at), so the generation prompt is the one
  token "<|im_start|>" and a game read as one chat stays unambiguous. The ChatML headers ("<|im_start|>user\n",
  "<|im_end|>\n<|im_start|>assistant\n") were 8 of an empty board's 24 tokens; without them a GRPO step of the
  main job took 12% and 18% less time in two paired runs (docs/training.md, "A prompt without role headers").
- It is a standard `Qwen2ForCausalLM` + `Qwen2Tokenizer`, saved with `save_pretrained`, so
  `AutoModelForCausalLM` / `AutoTokenizer.from_pretrained(path)`, TRL, vLLM and `transformers serve` all load it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from arena.errors import ArenaError, MissingExtraError
from arena.text import LEGAL_MOVES

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)
TAGS = ("<think>", "</think>", "<move>", "</move>")
BUILTIN_GAMES = ("tictactoe", "connect_four")
_SAMPLE_GAMES = 24  # random games per game and seat whose prompts seed the vocabulary
# Std of the initial weights; Qwen2's default, 0.02, is sized for wide models. With perfect labels this model
# reached 0.84 optimal moves in 800 steps from 0.02 and 0.87 in 400 from 0.1 (benchmarks/calib_supervised.py --init).
INIT_STD = 0.1


def chat_template(legal_moves: bool = False, join_digits: bool = False) -> str:
    """The tiny model's chat template: no system message and no role headers (a user turn is its text, an answer
    sits between "<|im_start|>" and "<|im_end|>"; see above), and unless `legal_moves` a user turn without its list
    of legal moves ("You play O. Legal moves: 0 2 3" becomes "You play O."; see above). `build_tokenizer` keeps
    the list for a game whose board does not show its legal moves. With `join_digits` a user turn loses every
    space before a digit ("0 1 2" becomes "012", "X 1 O" becomes "X1 O"; see above), which `build_tokenizer`
    asks for only when no text of the game writes a number of two digits, so the join is never ambiguous."""
    # The Qwen2 pre-tokenizer cuts a space before a digit into a token of its own (one before a letter joins it).
    join = "".join("{%- set content = content | replace(' " + d + "', '" + d + "') %}" for d in "0123456789")
    drop_list = (
        "{%- if message['role'] == 'user' and ' " + LEGAL_MOVES + "' in content %}"
        "{%- set head, tail = content.split(' " + LEGAL_MOVES + "', 1) %}"
        "{%- set rest = tail.split('\\n', 1) %}"
        "{%- set content = head + ('\\n' + rest[1] if rest | length > 1 else '') %}"
        "{%- endif %}"
    )
    return (
        "{%- for message in messages %}"
        "{%- if message['role'] != 'system' %}"
        "{%- set content = message['content'] %}"
        + ("" if legal_moves else drop_list)
        + ("{%- if message['role'] == 'user' %}" + join + "{%- endif %}" if join_digits else "")
        + "{%- if message['role'] == 'assistant' %}{{ '<|im_start|>' + content + '<|im_end|>' }}"
        "{%- else %}{{ content }}{%- endif %}"
        "{%- endif %}"
        "{%- endfor %}"
        "{%- if add_generation_prompt %}{{ '<|im_start|>' }}{%- endif %}"
    )


def answer_joins() -> tuple[str, str]:
    """The answer format's fixed text that runs from one tag to the next: an empty think and the move's opening
    tag (`<think></think>\\n<move>`), and a think's closing tag and the move's (`</think>\\n<move>`). Each is one
    added token of the tiny tokenizer (see above), after the tags, so the tags keep their ids."""
    from arena.text import AnswerFormat

    fmt = AnswerFormat()
    empty, closed = fmt.example("", 0), fmt.example("|", 0)
    return empty[: empty.index(">0<") + 1], closed[closed.index("|") + 1 : closed.index(">0<") + 1]


def _require_train_extra() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingExtraError(
            f"the tiny model needs the train extra (torch, transformers, tokenizers): pip install 'arena[train]' "
            f"({exc})"
        ) from exc
    return torch, transformers


def sample_texts(game: str = "tictactoe") -> list[str]:
    """Texts the tokenizer must encode without loss: user turns (mid-game and game over) and answers.

    Built from the env itself for the built-in games and `game`, in every board layout their renderers offer, so the
    vocabulary follows the prompts.
    """
    from arena.env import TextGameEnv
    from arena.games.registry import get_spec

    texts = ["user\n", "assistant\n", "system\n", "\n"]
    for name in dict.fromkeys((*BUILTIN_GAMES, game)):
        spec = get_spec(name)
        for layout in getattr(spec.make_renderer(spec.game()), "layouts", (None,)):
            env = TextGameEnv(game=name, opponent="random", invalid_move="forfeit", board_layout=layout)
            texts.extend(_game_texts(env))
    return texts


def _game_texts(env: Any) -> list[str]:
    """An env's user turns over random games, both seats, and an answer for every move."""
    import numpy as np

    fmt = env.config.answer
    rng = np.random.default_rng(0)
    texts = [fmt.example(" ".join(str(d) for d in range(10)), m) for m in range(env.game.info.num_moves)]
    for i in range(2 * _SAMPLE_GAMES):
        prompt, info = env.reset(seed=i, options={"agent_seat": ("first", "second")[i % 2]})
        texts.append(prompt)
        done = False
        while not done:
            move = int(rng.choice(info["legal_moves"]))
            prompt, _, terminated, truncated, info = env.step(fmt.example("", move))
            texts.append(prompt)
            done = terminated or truncated
    return texts


def build_tokenizer(game: str = "tictactoe") -> Any:
    """The tiny byte-level BPE tokenizer with its chat template (left padding).

    Transformers loads every `qwen2` checkpoint's tokenizer as `Qwen2Tokenizer`, which rebuilds a byte-level
    BPE from the saved vocabulary and merges with its own pre-tokenizer. So the tiny tokenizer *is* a
    `Qwen2Tokenizer`: its vocabulary holds each character the prompts use and one merged token per piece the
    Qwen2 pre-tokenizer cuts them into (" play", " X", ".", "\\n", ...), built by adding merges until every
    piece is one token. Tags and chat markers are added tokens; only the chat markers are special, so decoding
    with `skip_special_tokens=True` (as TRL does) keeps the tags.
    """
    _require_train_extra()
    from tokenizers import AddedToken
    from tokenizers.models import BPE
    from transformers import Qwen2Tokenizer

    def make(vocab: dict[str, int], merges: list[tuple[str, str]]) -> Any:
        return Qwen2Tokenizer(
            vocab=dict(vocab),
            merges=list(merges),
            unk_token=ENDOFTEXT,
            eos_token=IM_END,
            pad_token=ENDOFTEXT,
            bos_token=None,
            padding_side="left",
            model_max_length=4096,
        )

    pre_tokenizer = make({ENDOFTEXT: 0}, []).backend_tokenizer.pre_tokenizer
    joined = answer_joins()
    added = sorted((*SPECIAL_TOKENS, *TAGS, *joined), key=len, reverse=True)  # the longest match first
    split_added = re.compile("(" + "|".join(re.escape(t) for t in added) + ")")
    pieces: set[str] = set()
    texts = sample_texts(game)
    # Joining "1 2" into "12" keeps every piece the pre-tokenizer cuts (a digit is a piece of its own) and drops the
    # space tokens; it would merge two numbers into one where a text writes numbers of two digits.
    join_digits = not any(re.search(r"[0-9]{2}", text) for text in texts)
    for text in texts:
        for fragment in split_added.split(text):
            if fragment and fragment not in added:
                pieces.update(piece for piece, _ in pre_tokenizer.pre_tokenize_str(fragment))

    vocab = {token: i for i, token in enumerate((*SPECIAL_TOKENS, *TAGS))}
    for char in sorted({c for piece in pieces for c in piece}):
        vocab[char] = len(vocab)
    merges: list[tuple[str, str]] = []
    # Shortest pieces first, so longer ones reuse their merges; a new merge joins the first two tokens a piece
    # still splits into, and has the lowest priority, so it never changes how an earlier piece tokenizes.
    for piece in sorted(pieces, key=lambda p: (len(p), p)):
        while True:
            tokens = [t.value for t in BPE(vocab=dict(vocab), merges=list(merges)).tokenize(piece)]
            if len(tokens) == 1:
                break
            merges.append((tokens[0], tokens[1]))
            vocab.setdefault(tokens[0] + tokens[1], len(vocab))

    tokenizer = make(vocab, merges)
    tokenizer.add_tokens([AddedToken(IM_START, special=True, normalized=False)], special_tokens=True)
    tokenizer.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in (*TAGS, *joined)])
    from arena.env import TextGameEnv

    shown = TextGameEnv(game=game, opponent="random").renderer.board_shows_legal_moves
    tokenizer.chat_template = chat_template(legal_moves=not shown, join_digits=join_digits)
    return tokenizer


def build_tiny_model(
    seed: int = 0, game: str = "tictactoe", layers: int = 4, init_std: float = INIT_STD
) -> tuple[Any, Any]:
    """A freshly initialised tiny Qwen2 model (hidden 128; 4 layers, ~0.8M parameters, by default) and its
    tokenizer. Fewer layers run faster (a training step on a CPU is bound by arithmetic at this size).

    The same seed and shape give the same weights. The global torch RNG is left as it was.
    """
    torch, transformers = _require_train_extra()
    if not isinstance(seed, int) or seed < 0:
        raise ArenaError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(layers, int) or layers < 1:
        raise ArenaError(f"layers must be a positive integer, got {layers!r}")
    if not init_std > 0:
        raise ArenaError(f"init_std must be a positive number, got {init_std!r}")
    tokenizer = build_tokenizer(game)
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,  # whole connect four games as one chat in training
        tie_word_embeddings=True,
        initializer_range=init_std,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        use_cache=True,
    )
    # Seed a private RNG scope: building the default model must not change the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = None
    model.eval()
    return model, tokenizer


def save_tiny_model(path: str | Path, seed: int = 0, game: str = "tictactoe") -> Path:
    """Build the tiny model and save model and tokenizer with `save_pretrained` into `path`; returns the path."""
    model, tokenizer = build_tiny_model(seed=seed, game=game)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
