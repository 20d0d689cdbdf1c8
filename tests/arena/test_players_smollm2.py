"""A real chat model (SmolLM2-135M-Instruct, installed by `arena models install`) as a player: the installed
folder, zero-shot evaluation by its catalog name with what it said, and the same model behind `transformers serve`
for the OpenAI-compatible player."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers")

from loopback import transformers_serve  # noqa: E402

from arena.cli import main  # noqa: E402
from arena.evaluation import evaluate  # noqa: E402


def test_smollm2_install_makes_a_plain_folder_that_names_its_origin(smollm2_folder, capsys):
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (smollm2_folder / name).exists(), name
    provenance = json.loads((smollm2_folder / "arena_model.json").read_text())
    assert provenance["licence"] == "Apache-2.0" and provenance["parameters"] == 134_515_008
    assert main(["models", "path", "smollm2-135m"]) == 0
    assert capsys.readouterr().out.strip() == str(smollm2_folder)
    assert main(["models", "install", "smollm2-135m"]) == 0  # installed already: nothing rebuilt
    assert "already installed" in capsys.readouterr().out


def test_smollm2_converted_weights_still_answer(smollm2):
    model, tokenizer = smollm2
    enc = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, enc["input_ids"].shape[1] :])


@pytest.mark.slow
def test_smollm2_zero_shot_evaluation_by_name_records_what_it_said(smollm2_folder, tmp_path):
    out = tmp_path / "eval"
    argv = ["eval", "--player", "model:smollm2-135m", "--tiers", "random", "perfect", "--games", "2"]
    code = main([*argv, "--temperature", "0", "--max-new-tokens", "24", "--no-progress", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["player"] == "model:smollm2-135m"
    assert [t["games"] for t in report["tiers"]] == [2, 2]
    games = [json.loads(line) for line in (out / "transcripts.jsonl").read_text().splitlines()]
    assert len(games) == 4
    for game in games:
        for turn in game["transcript"]:
            assert turn["completion"].strip()  # the model said something, and it is on record
            assert (turn["invalid"] is None) == (turn["agent_move"] is not None)


@pytest.mark.slow
def test_smollm2_behind_transformers_serve_plays_as_it_does_in_process(smollm2_folder):
    for module in ("fastapi", "uvicorn", "openai"):
        pytest.importorskip(module, reason="transformers serve needs the serving packages (dev extra)")
    with transformers_serve(smollm2_folder, timeout=180, threads=1) as base_url:
        common = {"tiers": ["random"], "games_per_tier": 2, "seed": 0}
        options = {"base_url": base_url, "concurrency": 2, "max_new_tokens": 16, "timeout": 120}
        options["temperature"] = 0.0
        served = evaluate(f"openai:{smollm2_folder}", **common, player_options=options)
        local = evaluate("model:smollm2-135m", **common, player_options={"temperature": 0.0, "max_new_tokens": 16})
        assert served.tier("random")["games"] == 2
        # Greedy answers to the same prompts: the server applies the same chat template to the same weights.
        said = [[t["completion"].strip() for t in g.transcript] for g in served.games]
        assert said == [[t["completion"].strip() for t in g.transcript] for g in local.games]
