"""The explorer stage: the objective's weights and gradient on a hand-made batch, its config checks, and a short
run on CPU that changes the weights and logs the explorer's metrics."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from tinyrun import only_run, run_train  # noqa: E402

from arena.training.config import TrainConfig  # noqa: E402
from arena.training.explorer import explorer_loss, explorer_weights  # noqa: E402


def test_weights_fire_where_the_reference_is_likelier_and_are_clipped():
    ref = torch.tensor([[-0.5, -2.0, -1.0, -0.1]])
    exploit = torch.tensor([[-1.5, -1.0, -1.0, -3.1]])  # gaps 1.0, -1.0, 0.0, 3.0
    w = explorer_weights(ref, exploit, torch.tensor([0.0]), delta=2.0)
    assert w.tolist() == [[1.0, 0.0, 0.0, 2.0]]  # exp(0) * gap; no weight at gap <= 0; 3.0 clipped at delta
    paid = explorer_weights(ref, exploit, torch.tensor([math.log(1.5)]), delta=10.0)
    assert torch.allclose(paid, torch.tensor([[1.5, 0.0, 0.0, 4.5]]))  # a paying game weighs more
    per_token = explorer_weights(ref, exploit, torch.tensor([[0.0, 0.0, 0.0, math.log(0.5)]]), delta=10.0)
    assert torch.allclose(per_token, torch.tensor([[1.0, 0.0, 0.0, 1.5]]))


def test_gradient_pushes_up_forgotten_answers_only():
    # Two answers of one token each, from a 3-token vocabulary; both chose token 0.
    logits = torch.zeros(2, 1, 3, requires_grad=True)
    logps = torch.log_softmax(logits, -1)[..., 0]
    ref = torch.tensor([[-0.2], [-2.0]])  # answer 0: likelier under the reference than under eta; answer 1: not
    exploit = torch.tensor([[-1.2], [-0.5]])
    weights = explorer_weights(ref, exploit, torch.tensor([0.3, 0.3]), delta=5.0)
    loss = explorer_loss(logps, weights, torch.ones(2, 1))
    loss.backward()
    grad = logits.grad
    assert grad[0, 0, 0] < 0  # gradient descent raises the chosen token's logit: pushed up
    assert (grad[0, 0, 1:] > 0).all()  # and the others down
    assert (grad[1] == 0).all()  # no gradient where log pi_ref <= log eta
    # Masked tokens (the env's text, padding) get none either.
    logits.grad = None
    both = explorer_weights(ref, torch.tensor([[-1.2], [-3.0]]), torch.zeros(2), delta=5.0)
    explorer_loss(torch.log_softmax(logits, -1)[..., 0], both, torch.tensor([[1.0], [0.0]])).backward()
    assert (logits.grad[1] == 0).all() and logits.grad[0, 0, 0] < 0


def _explorer_config(tmp_path, **overrides):
    base = {
        "model": {"name_or_path": str(tmp_path)},
        "warmup": {"enabled": False},
        "explorer": {"reference": str(tmp_path), "exploitation": str(tmp_path)},
    }
    for key, value in overrides.items():
        section, field = key.split("__")
        base.setdefault(section, {})[field] = value
    return TrainConfig.model_validate(base)


def test_config_checks(tmp_path):
    assert _explorer_config(tmp_path).explorer.delta == 1.0
    with pytest.raises(ValueError, match="warmup.enabled false"):
        _explorer_config(tmp_path, warmup__enabled=True)
    with pytest.raises(ValueError, match="explorer starts from a trained policy"):
        TrainConfig.model_validate(
            {"warmup": {"enabled": False}, "explorer": {"reference": str(tmp_path), "exploitation": str(tmp_path)}}
        )
    with pytest.raises(ValueError, match="no such folder './nowhere/warmup'"):
        _explorer_config(tmp_path, explorer__reference="./nowhere/warmup")
    with pytest.raises(ValueError, match="greater than 0"):
        _explorer_config(tmp_path, explorer__delta=0)


@pytest.mark.slow
def test_short_explorer_run_changes_the_weights_and_logs_its_metrics(tmp_path):
    from safetensors.torch import load_file

    from arena.models.tiny import save_tiny_model

    reference = save_tiny_model(tmp_path / "reference", seed=1)  # two different policies with one tokenizer
    exploitation = save_tiny_model(tmp_path / "exploitation", seed=2)
    out = tmp_path / "runs"
    proc = run_train(
        out,
        "--model.name_or_path", str(exploitation),
        "--warmup.enabled", "false",
        "--explorer.reference", str(reference),
        "--explorer.exploitation", str(exploitation),
        "--explorer.delta", "2.0",
        "--explorer.coef", "2.0",
        "--grpo.steps", "3",
        "--grpo.save_steps", "3",
        "--grpo.max_new_tokens", "6",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "explorer stage" in proc.stdout and "format warm-up" not in proc.stdout
    run = only_run(out)
    before = load_file(exploitation / "model.safetensors")
    after = load_file(run / "final" / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before), "the explorer stage did not change the weights"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [row for row in logged if "explorer/fire_rate" in row]
    assert len(steps) == 3
    for row in steps:
        assert 0 <= row["explorer/fire_rate"] <= 1 and 0 <= row["explorer/weight_mean"] <= 2.0
        assert math.isfinite(row["explorer/kl_exploitation"]) and math.isfinite(row["explorer/kl_reference"])
        assert row["games/distinct_lines"] >= 1 and math.isfinite(row["explorer/loss"])
    assert any(row["explorer/fire_rate"] > 0 for row in steps)  # two random models disagree somewhere
    assert (run / "checkpoint-3").is_dir()


def test_tokenizers_must_match(tmp_path):
    from transformers import AutoTokenizer

    from arena.errors import ArenaError
    from arena.models.tiny import save_tiny_model
    from arena.training.job import _explorer_models

    same = save_tiny_model(tmp_path / "same")
    other = save_tiny_model(tmp_path / "other")
    grown = AutoTokenizer.from_pretrained(other)
    grown.add_tokens(["<another-token>"])  # another tokenizer: one more token
    grown.save_pretrained(other)
    config = _explorer_config(same)
    tokenizer = AutoTokenizer.from_pretrained(same)
    assert set(_explorer_models(config, tokenizer)) == {"delta", "coef", "reference", "exploitation"}
    bad = config.model_copy(update={"explorer": config.explorer.model_copy(update={"exploitation": str(other)})})
    with pytest.raises(ArenaError, match="explorer.exploitation=.* has another tokenizer"):
        _explorer_models(bad, tokenizer)
