"""The explorer stage: train a policy that samples where the reference policy and the RL policy disagree.

Three policies: the reference pi_ref (the model before RL: the warm-up, or a base chat model), the exploitation
policy eta (the RL-trained model, frozen) and the explorer pi_theta (trained). Over the explorer's own games, with
A the group-relative advantage GRPO computes, every answer token a in context s is weighted by

    w(s, a) = 1[d > 0] * min(exp(A) * d, delta),   d = log pi_ref(a|s) - log eta(a|s)

and the explorer's term is -w * log pi_theta(a|s), averaged over answer tokens (the indicator objective of "Dora
the Explorer: Learning Explorative Policies for Language Model RL-Finetuning"). Tokens the RL policy made less
likely than the reference had them are pushed up, more so when their game paid; every other token gets no push.
The weight is a constant of the step: the frozen models' log-probabilities are computed once a step, batched.

The term is added, `coef` times, to GRPO's own loss on the same answers. Alone it only ever pushes up, illegal
moves included: eta rules them out more sharply than pi_ref does, so d > 0 and the clip saturates whatever A is.
GRPO's term, which pushes down what lost, keeps the explorer playing the game (docs/exploration.md).

It runs on TRL's GRPOTrainer: its rollouts (`rollout_func`), advantages, loss, optimiser, logging and checkpoints.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

try:  # TRL >= 1.x scores log-probabilities through a fused LM head it adds to each model it reads
    from trl.trainer.utils import add_fused_lm_head
except ImportError:  # older TRL reads the logits of a plain model
    add_fused_lm_head = None


def explorer_weights(
    ref_logps: torch.Tensor, exploit_logps: torch.Tensor, advantages: torch.Tensor, delta: float
) -> torch.Tensor:
    """Per-token weights `1[d > 0] * min(exp(A) * d, delta)` with `d = log pi_ref - log eta`; `advantages` is one
    value a sequence (B,) or one a token (B, T)."""
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    gap = ref_logps - exploit_logps
    return torch.where(gap > 0, torch.clamp(torch.exp(advantages) * gap, max=delta), torch.zeros_like(gap))


def explorer_loss(logps: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`-w * log pi_theta(a|s)` averaged over the answer tokens of the batch (mask 1)."""
    return -(weights.detach() * logps * mask).sum() / mask.sum().clamp(min=1.0)


class ExplorerTrainer(GRPOTrainer):
    """GRPOTrainer with the explorer's term added to GRPO's loss, `coef` times. `reference` and `exploitation` are
    frozen causal LMs sharing the trained model's tokenizer; `delta` clips each token's weight."""

    def __init__(
        self, *args: Any, reference: Any, exploitation: Any, delta: float, coef: float = 1.0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.delta, self.coef = delta, coef
        self._capturing, self._captured = False, None
        self.frozen = {}
        for name, model in (("reference", reference), ("exploitation", exploitation)):
            model.requires_grad_(False)
            self.frozen[name] = model.to(self.accelerator.device).eval()
            if add_fused_lm_head is not None:  # TRL scores log-probabilities through it, as for its own reference
                cast = getattr(self.args, "cast_lm_head_to_fp32", False)
                add_fused_lm_head(model, temperature=self.temperature, cast_lm_head_to_fp32=cast)

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
        attention = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
        keep = output["completion_ids"].size(1)
        with torch.no_grad():
            for name, model in self.frozen.items():
                logps, _, _ = self._get_per_token_logps_and_entropies(model, ids, attention, keep)
                output[f"{name}_per_token_logps"] = logps
        ref, exploit = output["reference_per_token_logps"], output["exploitation_per_token_logps"]
        output["explorer_weights"] = explorer_weights(ref, exploit, output["advantages"], self.delta)
        return output

    def _get_per_token_logps_and_entropies(self, *args: Any, **kwargs: Any) -> Any:
        out = super()._get_per_token_logps_and_entropies(*args, **kwargs)
        if self._capturing:  # the policy's forward inside GRPO's loss: its log-probabilities serve both terms
            self._captured = out[0]
        return out

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        self._capturing, self._captured = True, None
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._capturing = False
        logps, self._captured = self._captured, None
        mask = inputs["completion_mask"] * inputs.get("tool_mask", 1)
        weights = inputs["explorer_weights"]
        explore = explorer_loss(logps, weights, mask)

        mode = "train" if self.model.training else "eval"
        tokens = mask.sum().clamp(min=1.0).item()
        gap = inputs["reference_per_token_logps"] - inputs["exploitation_per_token_logps"]
        with torch.no_grad():
            # KL estimates a sequence from the sampled answers: the mean of sum(log pi_theta - log other).
            for name in ("exploitation", "reference"):
                seq = ((logps - inputs[f"{name}_per_token_logps"]) * mask).sum(-1)
                self._metrics[mode][f"explorer/kl_{name}"].append(self.accelerator.gather(seq).mean().item())
            self._metrics[mode]["explorer/fire_rate"].append(((gap > 0) * mask).sum().item() / tokens)
            self._metrics[mode]["explorer/weight_mean"].append((weights * mask).sum().item() / tokens)
            self._metrics[mode]["explorer/loss"].append(explore.item())
        # GRPO's loss comes scaled for gradient accumulation (transformers' own scaling is off for it): so is this term.
        normalizer = getattr(self, "current_gradient_accumulation_steps", 1) if mode == "train" else 1.0
        return loss + self.coef * explore / normalizer
