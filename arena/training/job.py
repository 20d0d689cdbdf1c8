"""The training job end to end (`train`): load the model, warm up the format, evaluate, run GRPO on TRL, evaluate
again. `_train` reads as the run goes; train.py's docstring says where each step lives."""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from arena.errors import ArenaError
from arena.models.loading import RUN_CONFIG, load_pretrained

from .checkpoints import checkpoint_problem, newest_intact
from .config import TrainConfig, config_to_yaml, load_train_config
from .grpo import STATE_FILE, ArenaRollout, grpo_args, load_model, run_dir_name

console = Console()


def evaluate_model(model: Any, tokenizer: Any, config: TrainConfig, games: int, seed: int, progress: bool) -> Any:
    """Evaluate an in-memory model against the config's tiers, shown the game as training shows it: the whole
    game as a chat ('game' rollouts) or the current position alone ('turn' rollouts)."""
    from arena.evaluation import evaluate

    was_training = model.training
    model.eval()
    try:
        return evaluate(
            (model, tokenizer),
            game=config.game,
            game_kwargs=config.game_kwargs,
            tiers=config.eval.tiers,
            games_per_tier=games,
            seed=seed,
            invalid_move=config.env.invalid_move,
            answer_mode=config.env.answer.mode,
            board_layout=config.env.board_layout,
            context="game" if config.grpo.rollout == "game" else "turn",
            progress=progress,
            player_options={
                "temperature": config.eval.temperature,
                "max_new_tokens": config.grpo.max_new_tokens,
                "name": "model",
            },
        )
    finally:
        if was_training:
            model.train()


def comparison_table(before: list[dict[str, Any]] | None, after: list[dict[str, Any]], title: str) -> Table:
    """Per tier: W/D/L and score with 95% intervals before and after, and the invalid-move rate after.

    `before` and `after` are evaluation reports' per-tier entries (`report.tiers`, or the JSON's "tiers")."""
    table = Table(title=title)
    for col in (
        "tier",
        "before W/D/L",
        "before score [95% CI]",
        "after W/D/L",
        "after score [95% CI]",
        "invalid after",
    ):
        table.add_column(col, justify="right")

    def cell(t: dict[str, Any] | None) -> tuple[str, str]:
        if t is None:
            return "-", "-"
        lo, hi = t["score_ci"]
        return f"{t['wins']}/{t['draws']}/{t['losses']}", f"{t['score']:.2f} [{lo:.2f}, {hi:.2f}]"

    earlier = {t["tier"]: t for t in before or []}
    for t in after:
        table.add_row(t["tier"], *cell(earlier.get(t["tier"])), *cell(t), f"{t['invalid_move_rate']:.1%}")
    return table


def _callbacks(rollout: ArenaRollout, config: TrainConfig, run_dir: Path, tokenizer: Any) -> list[Any]:
    from transformers import TrainerCallback

    class ArenaCallback(TrainerCallback):
        """Saves the curriculum and exploration state with each checkpoint; evaluates every K steps."""

        trainer: Any = None

        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers' signature
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir() and rollout.rank == 0:
                tmp = ckpt / (STATE_FILE + ".tmp")
                tmp.write_text(json.dumps({"step": state.global_step, **rollout.state_dict()}))
                tmp.replace(ckpt / STATE_FILE)  # atomic: a crash never leaves half a state file

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.started, self.eval_seconds = time.perf_counter(), 0.0

        def on_step_end(self, args, state, control, model=None, **kwargs):  # noqa: ANN001
            every = config.eval.every_steps
            if every and state.global_step % every == 0 and rollout.rank == 0 and self.trainer is not None:
                t0 = time.perf_counter()
                # GRPO time so far, evaluations excluded: the x axis of learning-speed comparisons.
                minutes = (t0 - self.started - self.eval_seconds) / 60
                report = evaluate_model(model, tokenizer, config, config.eval.games_during, config.run.seed + 1, False)
                self.eval_seconds += time.perf_counter() - t0
                self.trainer.log({**report.metrics("eval/"), "eval/train_minutes": minutes})

    return [ArenaCallback()]


def plot_learning_curves(history: list[dict[str, Any]], path: Path) -> Path | None:
    """A PNG of reward, results, format/invalid rates, temperature and evaluation scores over steps."""
    from matplotlib.figure import Figure  # no pyplot: the caller's backend (e.g. a notebook's) is left alone

    rows = [h for h in history if "step" in h]
    if not rows:
        return None
    panels = [
        ("reward", ["reward", "reward/outcome", "reward/format", "reward/invalid"]),
        ("games", ["games/win_rate", "games/draw_rate", "games/loss_rate"]),
        ("format and invalid moves", ["games/format_rate", "games/invalid_move_rate"]),
        ("exploration", ["exploration/temperature", "entropy"]),
        ("evaluation", sorted({k for h in rows for k in h if k.startswith("eval/score_vs_")})),
        ("curriculum", sorted({k for h in rows for k in h if k.startswith("curriculum/weight/")})),
    ]
    fig = Figure(figsize=(15, 8))
    axes = fig.subplots(2, 3)
    for ax, (title, keys) in zip(axes.flat, panels, strict=True):
        for key in keys:
            pts = [(h["step"], h[key]) for h in rows if key in h]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, label=key.split("/")[-1] if "/" in key else key, marker="." if len(pts) < 30 else None)
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=7)
        else:  # e.g. no evaluation during training (eval.every_steps = 0)
            ax.text(0.5, 0.5, "not logged in this run", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _explorer_models(config: TrainConfig, tokenizer: Any) -> dict[str, Any]:
    """The explorer stage's frozen reference and exploitation models, its delta and coef (`ExplorerTrainer`'s
    keywords). Both models must read the trained model's tokens: their log-probabilities are taken on its answers."""
    e = config.explorer
    assert e is not None
    out: dict[str, Any] = {"delta": e.delta, "coef": e.coef}
    for name in ("reference", "exploitation"):
        path = getattr(e, name)
        model, theirs = load_pretrained(path, device="cpu")
        if theirs.get_vocab() != tokenizer.get_vocab():
            raise ArenaError(
                f"explorer.{name}={path!r} has another tokenizer than model.name_or_path="
                f"{config.model.name_or_path!r}: the three policies must share one (start the explorer from the "
                "reference or the exploitation model)"
            )
        out[name] = model
    console.print(
        f"explorer stage: reference {e.reference}, exploitation {e.exploitation}, delta {e.delta}, coef {e.coef}"
    )
    return out


def _set_reference(model: Any, tokenizer: Any, run_dir: Path, main: bool) -> None:
    """Point the model's config at the KL reference TRL should load: the warm-up model when there was one, else
    the model as GRPO starts. A model built in code (the tiny one) has no path of its own, so it is saved."""
    warm, saved = run_dir / "warmup", run_dir / "reference"
    for folder in (warm, saved):
        if (folder / "config.json").exists():
            model.config._name_or_path = str(folder)
            return
    if not getattr(model.config, "_name_or_path", ""):
        if main:
            model.save_pretrained(saved)
            tokenizer.save_pretrained(saved)
        model.config._name_or_path = str(saved)


class TrainingInterrupted(ArenaError):
    """Training was stopped by Ctrl-C; the message says what was saved and how to resume."""


class _StopOnCtrlC:
    """While installed: the first Ctrl-C asks the trainer to finish its step, save a checkpoint and stop (see
    `_stop_callback`); a second one stops at once (KeyboardInterrupt)."""

    def __init__(self, enabled: bool) -> None:
        # One process only: processes of a data-parallel run could stop at different steps and wait for each
        # other forever. signal.signal works only in the main thread.
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False

    def __enter__(self) -> _StopOnCtrlC:
        if self.enabled:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        console.print("\n[yellow]Ctrl-C:[/yellow] finishing this step and saving a checkpoint (Ctrl-C again: stop now)")


def _stop_callback(stop: _StopOnCtrlC) -> Any:
    from transformers import TrainerCallback

    class StopOnCtrlC(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers' signature
            if stop.requested:
                control.should_save = control.should_training_stop = True

    return StopOnCtrlC()


def _resume_point(resume: Path) -> tuple[Path, Path | None]:
    """The run directory and the checkpoint to resume from (None: GRPO starts over in that run directory, a
    finished warm-up reused). Damaged checkpoints are skipped, newest first, and each skip is reported."""
    if not resume.is_dir():
        raise ArenaError(f"--resume {resume}: no such folder; pass a run directory or one of its checkpoint-N folders")
    if resume.name.startswith("checkpoint-"):
        problem = checkpoint_problem(resume)
        if problem is None:
            return resume.parent, resume
        newest, _ = newest_intact(resume.parent)
        fix = (
            f"resume from {newest} instead"
            if newest is not None
            else f"no intact checkpoint is left: --resume {resume.parent} starts GRPO over there"
        )
        raise ArenaError(f"--resume {resume}: cannot resume from this checkpoint ({problem}); {fix}")
    newest, skipped = newest_intact(resume)
    for path, problem in skipped:
        console.print(f"[yellow]skipping {path.name}:[/yellow] {problem}")
    if newest is None:
        console.print(
            f"no intact checkpoint in {resume}: GRPO starts from step 0 in this run directory"
            + (" (its finished warm-up is reused)" if (resume / "warmup" / "config.json").exists() else "")
        )
    return resume, newest


def _load_json(path: Path) -> Any:
    """A JSON file's content, or None when it is missing or damaged (then it is made again)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _interrupted(run_dir: Path) -> TrainingInterrupted:
    newest, _ = newest_intact(run_dir)
    if newest is not None:
        saved = f"the latest intact checkpoint is {newest}"
    elif (run_dir / "warmup" / "config.json").exists():
        saved = "no checkpoint yet; the finished warm-up is kept and will be reused"
    else:
        saved = "nothing was saved yet"
    return TrainingInterrupted(f"interrupted: {saved}. Resume with: python train.py --resume {run_dir}")


def train(config: TrainConfig, resume: str | Path | None = None) -> Path:
    """Run the training job; returns the run directory. Ctrl-C during GRPO finishes the step, saves a checkpoint
    and raises `TrainingInterrupted`, whose message gives the `--resume` command (as it does at any other time)."""
    import torch
    from accelerate import PartialState

    started = time.perf_counter()
    dist = PartialState()
    main = dist.is_main_process
    checkpoint = None
    if resume is not None:
        run_dir, checkpoint = _resume_point(Path(resume))
    else:
        run_dir = Path(config.run.output_dir) / run_dir_name(config)

    torch.manual_seed(config.run.seed)
    model, tokenizer = load_model(config)
    run_dir.mkdir(parents=True, exist_ok=True)  # only now: a model that cannot load leaves no empty run directory
    if main:
        (run_dir / RUN_CONFIG).write_text(config_to_yaml(config))
        console.print(f"[bold]run directory[/bold] {run_dir}")
    try:
        return _train(config, run_dir, checkpoint, model, tokenizer, dist, started)
    except KeyboardInterrupt:
        raise _interrupted(run_dir) from None


def _train(
    config: TrainConfig, run_dir: Path, checkpoint: Path | None, model: Any, tokenizer: Any, dist: Any, started: float
) -> Path:
    """The run after the model has loaded: warm-up, evaluation before, GRPO (TRL), evaluation after."""
    import torch

    main = dist.is_main_process
    if config.run.device == "cpu" or not torch.cuda.is_available():
        torch.set_num_threads(max(1, torch.get_num_threads()))
    if checkpoint is None and config.warmup.enabled:
        model = _warm_up(config, run_dir, model, tokenizer, main)
    if config.grpo.beta > 0:
        _set_reference(model, tokenizer, run_dir, main)
    before = _evaluate_before(config, run_dir, model, tokenizer, checkpoint, main)

    rollout = ArenaRollout(config, tokenizer, run_dir, rank=dist.process_index)
    if checkpoint is not None:
        rollout.load_state_dict(json.loads((checkpoint / STATE_FILE).read_text()))
        console.print(f"resuming from {checkpoint}")
    stop = _StopOnCtrlC(enabled=dist.num_processes == 1)
    trainer = _grpo_trainer(config, run_dir, model, tokenizer, rollout, stop, dist.num_processes)
    _run_grpo(config, trainer, rollout, checkpoint, stop)
    if stop.requested:
        saved = run_dir / f"checkpoint-{trainer.state.global_step}"
        raise TrainingInterrupted(
            f"interrupted at step {trainer.state.global_step}: saved {saved}. Resume with: python train.py "
            f"--resume {run_dir}"
        )
    if main:
        _finish(config, run_dir, trainer, tokenizer, before, started)
    return run_dir


def _warm_up(config: TrainConfig, run_dir: Path, model: Any, tokenizer: Any, main: bool) -> Any:
    """The format warm-up (supervised, on random legal moves), saved as warmup/; a previous attempt's is reused."""
    warm = run_dir / "warmup"
    if (warm / "config.json").exists():  # a previous attempt finished the warm-up: reuse it, loaded as the model was
        m = config.model
        return load_pretrained(str(warm), device=None, dtype=m.dtype, trust_remote_code=m.trust_remote_code)[0]
    from .warmup import run_warmup

    console.print(f"format warm-up: {config.warmup.steps} steps on random legal moves")
    summary = run_warmup(model, tokenizer, config, str(run_dir / "warmup_tmp"))
    shutil.rmtree(run_dir / "warmup_tmp", ignore_errors=True)  # SFT's scratch folder; nothing saved there
    if main:  # written aside, then renamed: a crash mid-save never leaves a half warm-up to reuse
        partial = run_dir / "warmup.partial"
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        (partial / "summary.json").write_text(json.dumps(summary))
        shutil.rmtree(warm, ignore_errors=True)  # an unfinished save from before this rule
        partial.rename(warm)
    return model


def _evaluate_before(
    config: TrainConfig, run_dir: Path, model: Any, tokenizer: Any, checkpoint: Path | None, main: bool
) -> list[dict[str, Any]] | None:
    """The per-tier results before GRPO, as eval_before.json; a resumed run reads the ones it wrote at its start."""
    earlier = _load_json(run_dir / "eval_before.json")
    before = earlier.get("tiers") if isinstance(earlier, dict) else None
    if before is None and checkpoint is None and config.eval.before and main:
        console.print(f"evaluation before GRPO: {config.eval.games_per_tier} games per tier")
        report = evaluate_model(model, tokenizer, config, config.eval.games_per_tier, config.run.seed, True)
        report.save(run_dir / "eval_before.json")
        before = report.tiers
    return before


def _grpo_trainer(
    config: TrainConfig,
    run_dir: Path,
    model: Any,
    tokenizer: Any,
    rollout: ArenaRollout,
    stop: _StopOnCtrlC,
    world_size: int,
) -> Any:
    """TRL's GRPOTrainer (the explorer's subclass for an explorer stage), playing games through `rollout`."""
    from datasets import Dataset
    from trl import GRPOTrainer

    args = grpo_args(config, run_dir, world_size)
    # One row a group: TRL counts steps by prompts, and the rollout function plays the curriculum's games instead.
    rows = config.grpo.steps * config.grpo.groups_per_step
    dataset = Dataset.from_dict({"prompt": [f"{config.game} game {i}" for i in range(rows)]})
    peft_config = None
    if config.model.lora is not None:
        from peft import LoraConfig

        lora = config.model.lora
        peft_config = LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules if isinstance(lora.target_modules, str) else list(lora.target_modules),
            task_type="CAUSAL_LM",
        )
    callbacks = [*_callbacks(rollout, config, run_dir, tokenizer), _stop_callback(stop)]
    trainer_class, explorer = GRPOTrainer, {}
    if config.explorer is not None:
        from .explorer import ExplorerTrainer

        trainer_class, explorer = ExplorerTrainer, _explorer_models(config, tokenizer)
    trainer = trainer_class(
        model=model,
        processing_class=tokenizer,
        reward_funcs=[rollout.reward],
        args=args,
        train_dataset=dataset,
        rollout_func=rollout,
        peft_config=peft_config,
        callbacks=callbacks,
        **explorer,
    )
    callbacks[0].trainer = trainer
    if config.grpo.use_vllm:
        from .grpo import fit_vllm_cpu_colocate

        fit_vllm_cpu_colocate(trainer)
    return trainer


def _run_grpo(
    config: TrainConfig, trainer: Any, rollout: ArenaRollout, checkpoint: Path | None, stop: _StopOnCtrlC
) -> None:
    """TRL's training loop; Ctrl-C finishes the step and saves a checkpoint (`stop.requested`)."""
    import torch

    threads = torch.get_num_threads()
    if config.grpo.generate_ahead:  # the update and the games ahead run at once: half the cores each
        torch.set_num_threads(max(1, threads // 2))
    try:
        with stop:
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        rollout.close()
        torch.set_num_threads(threads)


def _finish(
    config: TrainConfig,
    run_dir: Path,
    trainer: Any,
    tokenizer: Any,
    before: list[dict[str, Any]] | None,
    started: float,
) -> None:
    """The trained model as final/, the metrics and learning curves, and the evaluation after GRPO with its table."""
    trainer.save_model(str(run_dir / "final"))
    tokenizer.save_pretrained(run_dir / "final")
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in trainer.state.log_history))
    plot_learning_curves(trainer.state.log_history, run_dir / "learning_curves.png")
    if config.eval.after:
        console.print(f"evaluation after GRPO: {config.eval.games_per_tier} games per tier")
        policy = trainer.accelerator.unwrap_model(trainer.model)
        after = evaluate_model(policy, tokenizer, config, config.eval.games_per_tier, config.run.seed, True)
        after.save(run_dir / "eval_after.json")
        title = f"{config.game}: {config.eval.games_per_tier} seat-balanced games per tier, before vs after GRPO"
        console.print(comparison_table(before, after.tiers, title))
    minutes = (time.perf_counter() - started) / 60
    console.print(f"done in {minutes:.1f} min; run directory {run_dir}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train a language model to play a game with GRPO. Overrides: --section.key value "
        "(e.g. --grpo.steps 50 --run.seed 1).",
    )
    parser.add_argument("--config", help="YAML config (presets in configs/); defaults are used without one")
    parser.add_argument("--resume", help="a run directory (its latest checkpoint) or a checkpoint-N directory")
    args, overrides = parser.parse_known_args(argv)
    try:
        if args.resume and not args.config:
            saved = Path(args.resume)
            saved = saved.parent if saved.name.startswith("checkpoint-") else saved
            if not (saved / RUN_CONFIG).is_file():
                what = "no such folder" if not saved.is_dir() else "no config.yaml there, so not a run directory"
                raise ArenaError(
                    f"--resume {args.resume}: {what}; pass a run directory made by train.py (runs/<run>) or one "
                    "of its checkpoint-N folders"
                )
            config = load_train_config(saved / RUN_CONFIG, overrides)
        else:
            config = load_train_config(args.config, overrides)
        train(config, resume=args.resume)
    except TrainingInterrupted as exc:
        console.print(f"[yellow]{exc}[/yellow]")
        return 130  # the shell's code for a program stopped by Ctrl-C
    except KeyboardInterrupt:  # before the run directory existed: nothing to resume
        console.print("[yellow]interrupted before training started: nothing was saved[/yellow]")
        return 130
    except ArenaError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    return 0
