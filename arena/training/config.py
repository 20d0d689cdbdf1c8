"""The training configuration: one pydantic model per concern, composed into `TrainConfig`.

Loaded from YAML (`load_train_config`) with `--section.key value` overrides; every field has a description,
and a bad value fails here, before any model loads, with a message naming the field.
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from arena.env import EnvConfig
from arena.errors import ArenaError
from arena.games.registry import get_spec
from arena.models.catalog import ModelNotInstalledError, resolve_model
from arena.models.loading import missing_model_folder
from curricula.config import CurriculumConfig, parse_config
from opponents.spec import parse_opponent

TINY_MODEL = "tiny"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSection(_Section):
    name: str = Field("run", pattern=r"^[A-Za-z0-9_.-]+$", description="Run name, part of the run directory name.")
    seed: int = Field(0, ge=0, description="Seed of every random generator in the run (model init, games, data).")
    output_dir: str = Field(
        "runs", description="Folder that holds the run directories (<game>__<run.name>__<seed>__<time>)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the model trains: 'auto' a GPU when there is one, else the CPU."
    )


class LoraSection(_Section):
    r: int = Field(
        16,
        ge=1,
        description="LoRA rank: the inner size of each adapter's two matrices (more rank, more trainable weights).",
    )
    alpha: int = Field(32, ge=1, description="LoRA scaling: an adapter's update is scaled by alpha / r.")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on an adapter's input while training.")
    target_modules: tuple[str, ...] | Literal["all-linear"] = Field(
        "all-linear", description="Modules to adapt ('all-linear' or a list of module names)."
    )


def _model_path(value: str, other: str) -> str:
    """`value` if it can name a model: an installed catalog model, an existing folder or a hub id."""
    try:
        resolve_model(value)  # a catalog name must be installed; its error gives the install command
    except ModelNotInstalledError as exc:
        raise ValueError(str(exc)) from None
    if missing_model_folder(value):
        raise ValueError(
            f"no such folder {value!r}; pass the folder of a saved model (with its config.json), a Hugging Face id "
            f"like 'org/name', {other}"
        )
    return value


class ModelSection(_Section):
    name_or_path: str = Field(
        TINY_MODEL,
        min_length=1,
        description="'tiny' (the embedded model), an installed catalog model such as 'smollm2-135m' (`arena models "
        "install smollm2-135m`), a local path (a saved model; a training run, whose latest checkpoint-N is read; a "
        "LoRA adapter, merged into its base), or a Hugging Face id. Loaded as evaluation loads a model player.",
    )
    tiny_seed: int = Field(
        0, ge=0, description="Weight-init seed of the embedded tiny model (run.seed seeds the rest of the run)."
    )
    tiny_layers: int = Field(
        4, ge=1, le=64, description="Transformer layers of the embedded tiny model (hidden size 128 at any depth)."
    )
    trust_remote_code: bool = Field(False, description="Allow the model's own code from the hub; off unless asked.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="The dtype the weights load in ('auto': as saved); bfloat16 and float16 halve their memory. "
        "Mixed precision while training is grpo.bf16.",
    )
    lora: LoraSection | None = Field(None, description="Train LoRA adapters (needs peft) instead of all weights.")

    @property
    def is_tiny(self) -> bool:
        return self.name_or_path == TINY_MODEL

    @model_validator(mode="after")
    def _tiny_shape_needs_tiny(self) -> ModelSection:
        # Against the default, not the fields set: a dumped config (run's config.yaml) names every field.
        if self.tiny_layers != type(self).model_fields["tiny_layers"].default and not self.is_tiny:
            raise ValueError(
                f"model.tiny_layers shapes the embedded model only; model.name_or_path={self.name_or_path!r} "
                "brings its own shape (drop tiny_layers, or set name_or_path: tiny)"
            )
        return self

    @field_validator("name_or_path")
    @classmethod
    def _local_path_exists(cls, value: str) -> str:
        return _model_path(value, "or 'tiny'")


class WarmupSection(_Section):
    """A short supervised stage on random legal moves in the answer format: teaches the format, not skill."""

    enabled: bool = Field(True, description="Run the format warm-up before GRPO.")
    steps: int = Field(300, ge=1, description="Optimizer steps of the warm-up, on examples drawn from warmup.games.")
    batch_size: int = Field(
        32, ge=1, description="Answers (one position, one random legal move each) per warm-up step."
    )
    learning_rate: float = Field(1e-3, gt=0, description="Learning rate of the warm-up's optimizer.")
    games: int = Field(800, ge=1, description="Synthetic random-move games generated as warm-up data.")
    think: Literal["side", "legal_moves", "empty"] = Field(
        "side",
        description="Templated reasoning: 'side' ('You play X.'), 'legal_moves' (lists them) or 'empty' (an empty "
        "think block: the shortest well-formed answer, so the fastest to generate).",
    )


class GRPOSection(_Section):
    rollout: Literal["game", "turn"] = Field(
        "game",
        description="'game': a whole game is one multi-turn sequence, env text masked (env_mask); 'turn': a "
        "group answers one position (the current board only), each answer is played out and scored by its game.",
    )
    max_prefix_plies: int | None = Field(
        None,
        ge=0,
        description="turn rollouts: most random plies played from the empty board to reach a position (None: "
        "any depth); a curriculum start (an opening, a puzzle) is the position itself. Refused with rollout 'game', "
        "whose games start where the curriculum says.",
    )
    steps: int = Field(150, ge=1, description="GRPO optimizer steps; each plays groups_per_step x group_size games.")
    learning_rate: float = Field(
        3e-4, gt=0, description="Peak learning rate of GRPO's AdamW; lr_scheduler shapes it over the steps."
    )
    group_size: int = Field(8, ge=2, description="Games per GRPO group (TRL's num_generations); all share a spec.")
    groups_per_step: int = Field(
        8,
        ge=1,
        description="Groups per optimizer step: each plays one curriculum spec (opponent, seat, start) group_size "
        "times.",
    )
    max_new_tokens: int = Field(
        48, ge=1, description="Longest answer per turn, in tokens; an answer cut off here is a format error."
    )
    max_sequence_tokens: int = Field(
        2048,
        ge=64,
        description="'game' rollouts: a game whose token sequence (prompt, answers, replies) reaches this many "
        "tokens is cut off there and scored as truncated.",
    )
    continuation_temperature: float | None = Field(
        None,
        ge=0.0,
        description="turn rollouts: temperature of the play-out turns after the answer being trained (0: greedy; "
        "None: sampled like that answer, exploration temperatures included). Ignored by game rollouts.",
    )
    pool_same_move: bool = Field(
        False,
        description="turn rollouts: a member's outcome is the mean over the group's members that played the same "
        "legal move (less play-out noise in the advantage; the prompt is the position alone, so an answer's value "
        "depends on its move only). Ignored by game rollouts.",
    )
    distinct_moves: bool = Field(
        False,
        description="turn rollouts: a group's first answer samples the policy as usual, the others try the legal "
        "moves the group has not tried, drawn from the policy without replacement, so groups keep comparing moves "
        "after the policy has settled (the update then weighs moves by their play-outs, not by the policy's odds). "
        "transformers generation only.",
    )
    path_starts: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="turn rollouts: share of the groups (those whose curriculum spec sets no start) that answer a "
        "position on the policy's own path instead of a random one: the game's start, or a position where the "
        "agent was to move in the policy's latest whole games against the curriculum's opponents (the play-outs "
        "of groups that answered the start).",
    )
    loss_starts: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="turn rollouts: share of the groups (those whose curriculum spec sets no start) that answer a "
        "position from a play-out the policy lost, against the opponent that beat it: where the play-out's policy "
        "was to move in its latest lost games (positions lost often are asked often). Taken before path_starts; "
        "the two shares add up to at most 1, and the rest are random positions.",
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group",
        description="TRL's advantage scaling: by the group's reward std ('group'), the batch's ('batch') or none "
        "('none', Dr. GRPO: a group whose rewards barely differ gets a small update, not a unit-sized one).",
    )
    beta: float = Field(0.0, ge=0.0, description="KL coefficient against the reference model (0: no reference).")
    epsilon: float = Field(
        0.2,
        gt=0.0,
        description="Clipping range of the importance ratio; with num_iterations 1 the ratio is 1 and nothing is "
        "clipped.",
    )
    epsilon_high: float | None = Field(
        None, gt=0.0, description="Upper clipping range (DAPO's clip-higher, e.g. 0.28); None: same as epsilon."
    )
    entropy_coef: float = Field(
        0.0, ge=0.0, description="Entropy bonus weight (keeps sampling diverse); the start value when adaptive."
    )
    entropy_target: float | None = Field(
        None,
        gt=0.0,
        description="Adaptive entropy control (TRL, Skywork-OR1): the bonus weight rises while the mean per-token "
        "entropy of the answers is below this target and falls above it. None: a fixed entropy_coef.",
    )
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = Field(
        "dapo",
        description="How TRL averages the token losses over the model's own tokens: 'grpo' over each sequence, then "
        "over sequences (short sequences weigh more); 'dapo' over all of the accumulated batch's; 'bnpo' over each "
        "device's batch's; 'dr_grpo' divides by a constant (max_sequence_tokens).",
    )
    num_iterations: int = Field(
        1,
        ge=1,
        description="Optimisation passes over each batch of games (TRL's num_iterations); above 1 the later passes "
        "learn from games an older policy played, and epsilon clips them.",
    )
    max_grad_norm: float = Field(1.0, gt=0.0, description="Gradients are scaled down to this global norm when larger.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay (decoupled; 0: none).")
    warmup_ratio: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Share of the steps over which the learning rate rises from 0 to learning_rate.",
    )
    lr_scheduler: Literal["constant", "linear", "cosine", "constant_with_warmup"] = Field(
        "constant",
        description="Learning rate over the steps, after any warmup_ratio: 'linear' and 'cosine' decay it to 0 by the "
        "last step; 'constant' and 'constant_with_warmup' hold it.",
    )
    logging_steps: int = Field(5, ge=1, description="Log metrics every this many steps.")
    save_steps: int = Field(50, ge=1, description="Checkpoint (weights, optimizer, curriculum) every this many steps.")
    save_total_limit: int | None = Field(
        3,
        ge=2,
        description="Keep at most this many checkpoints (None: all). At least 2: the oldest is deleted once the "
        "newest is written but before it is marked finished, so with 1 a crash then would leave none intact.",
    )
    report_to: tuple[str, ...] = Field(("tensorboard",), description="TRL/transformers loggers: tensorboard, wandb.")
    generate_ahead: bool = Field(
        False,
        description="Play the next step's games in a background thread while this step's update runs, with a copy "
        "of the policy taken before the update: each update learns from games one update old (no importance "
        "correction; distinct_moves sampling is not the policy's own anyway). During GRPO torch runs half its "
        "threads (at least one), since the update and the games run at once. On 2 CPU cores a main-job step took "
        "8-22% less time in four paired runs (docs/training.md, 'Games played ahead'); not measured on a GPU. "
        "transformers generation only; the copy doubles the policy's memory. A resumed run plays its first step's "
        "games with the checkpoint's weights.",
    )
    use_vllm: bool = Field(False, description="Generate with vLLM through TRL (GPU and the vllm extra needed).")
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate",
        description="'colocate': vLLM runs in the training process and shares its GPU (vllm_gpu_memory_utilization); "
        "'server': a separate `trl vllm-serve` process at vllm_server_base_url generates.",
    )
    vllm_server_base_url: str | None = Field(
        None,
        description="Server mode: URL of `trl vllm-serve` (needed there; refused unless use_vllm and vllm_mode "
        "'server', which alone read it).",
    )
    vllm_gpu_memory_utilization: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="Colocate mode: the share of GPU memory vLLM takes for its weights and KV cache; training gets the "
        "rest.",
    )
    bf16: bool | None = Field(
        None, description="bf16 mixed precision; None: on when a GPU supports it (off for the tiny model)."
    )
    gradient_checkpointing: bool = Field(
        False,
        description="Recompute activations in the backward pass instead of keeping them: less memory on large models, "
        "slower steps.",
    )

    @field_validator("report_to", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if isinstance(value, str):
            return () if value in ("none", "") else (value,)
        return value


class Waypoint(_Section):
    step: int = Field(ge=0, description="Training step.")
    temperature: float = Field(gt=0.0, description="Sampling temperature at that step.")


class WanderSection(_Section):
    """Plateau-triggered exploration: raise the temperature while reward stalls, lower it after recovery."""

    enabled: bool = Field(
        False,
        description="Raise the sampling temperature while the mean reward stalls (patience, step, cap), and lower it "
        "again once the reward reaches a new best.",
    )
    patience: int = Field(20, ge=1, description="Steps without a new best reward before the temperature rises.")
    step: float = Field(0.1, gt=0.0, description="Temperature added at each plateau.")
    cap: float = Field(1.5, gt=0.0, description="Highest temperature the wander phase may reach.")
    min_delta: float = Field(0.01, ge=0.0, description="Reward gain that counts as an improvement.")
    smoothing: int = Field(5, ge=1, description="Steps of reward averaged before comparing with the best.")


class ExplorationSection(_Section):
    temperature: float = Field(1.0, gt=0.0, description="Sampling temperature when no schedule is given.")
    move_temperature: float | None = Field(
        None,
        gt=0.0,
        description="Temperature of the tokens inside the move tag only (the decision), the rest of the answer "
        "sampled at the temperature above: exploration of moves without garbling the answer format. None: the "
        "same temperature throughout. transformers generation only (not vLLM).",
    )
    top_p: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Nucleus sampling in rollouts: draw from the likeliest tokens whose probability adds up to top_p "
        "(1: all).",
    )
    schedule: tuple[Waypoint, ...] = Field(
        (),
        description="Temperature waypoints (step, temperature): before the first the first holds, after the last the "
        "last; `interpolation` moves between them. Empty: `temperature` throughout.",
    )
    interpolation: Literal["linear", "step", "cosine"] = Field(
        "linear",
        description="How the temperature moves between waypoints: 'linear'; 'step', each waypoint's value until the "
        "next; 'cosine', easing out of one and into the next.",
    )
    wander: WanderSection = Field(default_factory=WanderSection, description="Plateau-triggered exploration.")

    @model_validator(mode="after")
    def _ordered(self) -> ExplorationSection:
        steps = [w.step for w in self.schedule]
        if steps != sorted(set(steps)):
            raise ValueError(f"exploration.schedule steps {steps} must be strictly increasing")
        if self.wander.enabled and self.wander.cap < self.base_max():
            raise ValueError(
                f"exploration.wander.cap={self.wander.cap} is below the scheduled temperature {self.base_max()}; "
                "raise the cap"
            )
        return self

    def base_max(self) -> float:
        return max([self.temperature, *(w.temperature for w in self.schedule)])


class EvalSection(_Section):
    """How the job evaluates its model before, during and after GRPO. The rest of the evaluation's `EvalConfig` is
    the run's own: its game and game_kwargs, env.invalid_move, env.answer.mode, env.board_layout, and the context
    its rollouts train with (the whole game for 'game', the position alone for 'turn'). `arena eval --player
    model:<run>` reads the game, its arguments, the layout and the context from the run's config.yaml; its other
    settings have defaults of their own (100 games a tier, `EvalConfig`)."""

    tiers: tuple[str, ...] = Field(
        ("random", "noisy-0.5", "perfect"), min_length=1, description="Opponent tiers evaluated before and after."
    )
    games_per_tier: int = Field(200, ge=2, description="Seat-balanced games per tier before and after training.")
    every_steps: int = Field(0, ge=0, description="Also evaluate every this many steps (0: only before and after).")
    games_during: int = Field(40, ge=2, description="Games per tier for the evaluations during training.")
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature in evaluation (0: greedy).")
    transcripts_every: int = Field(25, ge=0, description="Write game transcripts every this many steps (0: never).")
    transcripts: int = Field(4, ge=1, description="Games per transcript dump (the first game of each group).")
    before: bool = Field(True, description="Evaluate before GRPO (after the warm-up) as eval_before.json.")
    after: bool = Field(True, description="Evaluate after GRPO as eval_after.json, with the before/after table.")

    @field_validator("tiers")
    @classmethod
    def _tiers_parse(cls, tiers: tuple[str, ...]) -> tuple[str, ...]:
        for tier in tiers:
            parse_opponent(tier)
        return tiers


class ExplorerSection(_Section):
    """An explorer stage (docs/exploration.md): GRPO from model.name_or_path plus a term that pushes up the answers
    the reference policy gives more likely than the exploitation policy does."""

    reference: str = Field(
        min_length=1,
        description="The reference policy pi_ref, frozen: the model before RL (a run's warmup/ folder, or the base "
        "chat model). A folder, a run directory (its latest checkpoint), a catalog model or a hub id.",
    )
    exploitation: str = Field(
        min_length=1,
        description="The exploitation policy eta, frozen: the RL-trained model the explorer departs from (a run's "
        "final/ folder). Same forms as reference.",
    )
    delta: float = Field(
        1.0,
        gt=0.0,
        description="Clip of each answer token's weight min(exp(advantage) * (log pi_ref - log eta), delta); tokens "
        "with log pi_ref <= log eta get no gradient.",
    )
    coef: float = Field(
        1.0,
        ge=0.0,
        description="Weight of the explorer's term beside GRPO's own loss on the same answers (0: plain GRPO from "
        "model.name_or_path, with the explorer's metrics logged).",
    )

    @field_validator("reference", "exploitation")
    @classmethod
    def _local_path_exists(cls, value: str) -> str:
        return _model_path(value, "or a training run directory")


def _curriculum(value: Any) -> Any:
    return parse_config(value) if isinstance(value, Mapping) else value


class TrainConfig(_Section):
    """Everything a run needs. `python train.py --config FILE [--section.key value ...]`."""

    game: str = Field("tictactoe", description="Registered game name (`arena games` lists them).")
    game_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Arguments of the game's constructor (connect four: rows, columns, connect); evaluation "
        "before, during and after GRPO plays the same board.",
    )
    run: RunSection = Field(default_factory=RunSection, description="Naming, seeding and output.")
    env: EnvConfig = Field(default_factory=EnvConfig, description="Answer format, invalid moves, rewards.")
    curriculum: Annotated[CurriculumConfig, BeforeValidator(_curriculum)] = Field(
        default_factory=lambda: parse_config({"kind": "fixed", "opponents": {"random": 1.0}}),
        description="Which opponent, seat and start each GRPO group gets.",
    )
    model: ModelSection = Field(default_factory=ModelSection, description="The model to train.")
    warmup: WarmupSection = Field(default_factory=WarmupSection, description="Format warm-up (supervised).")
    grpo: GRPOSection = Field(default_factory=GRPOSection, description="GRPO settings (TRL's GRPOTrainer).")
    exploration: ExplorationSection = Field(default_factory=ExplorationSection, description="Sampling temperature.")
    eval: EvalSection = Field(default_factory=EvalSection, description="Evaluation against opponent tiers.")
    explorer: ExplorerSection | None = Field(
        None,
        description="Train an explorer policy (docs/exploration.md): the same games and advantages, GRPO's loss plus "
        "the explorer's term. None: plain GRPO.",
    )

    @field_validator("game")
    @classmethod
    def _game_registered(cls, game: str) -> str:
        get_spec(game)
        return game

    @model_validator(mode="after")
    def _cross_checks(self) -> TrainConfig:
        spec = get_spec(self.game)
        try:
            game = spec.game(**self.game_kwargs)
        except ArenaError as exc:
            raise ValueError(str(exc)) from None
        if self.env.board_layout is not None:
            try:
                spec.renderer(game, self.env.board_layout)
            except ArenaError as exc:
                raise ValueError(f"env.board_layout: {exc}") from None
        if self.grpo.use_vllm and importlib.util.find_spec("vllm") is None:
            raise ValueError("grpo.use_vllm is true but vllm is not installed: pip install 'arena[vllm]' (GPU only)")
        if self.grpo.use_vllm and self.grpo.vllm_mode == "server" and not self.grpo.vllm_server_base_url:
            raise ValueError("grpo.vllm_mode='server' needs grpo.vllm_server_base_url (e.g. http://localhost:8000)")
        if self.grpo.vllm_server_base_url and not (self.grpo.use_vllm and self.grpo.vllm_mode == "server"):
            raise ValueError(
                "grpo.vllm_server_base_url is read in vLLM server mode only: set grpo.use_vllm true and "
                "grpo.vllm_mode server, or unset it"
            )
        if self.model.lora is not None and importlib.util.find_spec("peft") is None:
            raise ValueError("model.lora is set but peft is not installed: pip install peft")
        if self.grpo.use_vllm and self.exploration.move_temperature is not None:
            raise ValueError(
                "exploration.move_temperature needs transformers generation; vLLM samples every token at one "
                "temperature: unset it or set grpo.use_vllm false"
            )
        if self.grpo.use_vllm and self.grpo.distinct_moves:
            raise ValueError(
                "grpo.distinct_moves needs transformers generation (it steers each answer's move as it is sampled): "
                "unset it or set grpo.use_vllm false"
            )
        if self.grpo.generate_ahead and (self.grpo.use_vllm or self.grpo.num_iterations > 1):
            what = "grpo.use_vllm" if self.grpo.use_vllm else f"grpo.num_iterations={self.grpo.num_iterations}"
            raise ValueError(
                f"grpo.generate_ahead does not work with {what}: it plays the next step's games with a copy of the "
                "transformers model, one batch a step; set grpo.generate_ahead false or drop the other"
            )
        if self.grpo.path_starts + self.grpo.loss_starts > 1:
            raise ValueError(
                f"grpo.path_starts ({self.grpo.path_starts}) and grpo.loss_starts ({self.grpo.loss_starts}) are shares "
                "of the same groups and add up to more than 1: lower one of them"
            )
        for name, used in (
            ("distinct_moves", self.grpo.distinct_moves),
            ("path_starts", self.grpo.path_starts > 0),
            ("loss_starts", self.grpo.loss_starts > 0),
            ("max_prefix_plies", self.grpo.max_prefix_plies is not None),
        ):
            if used and self.grpo.rollout != "turn":
                raise ValueError(
                    f"grpo.{name} applies to turn rollouts (a group answers one position): "
                    "set grpo.rollout turn or unset it"
                )
        if self.explorer is not None and (self.warmup.enabled or self.model.is_tiny):
            raise ValueError(
                "an explorer starts from a trained policy: set model.name_or_path to explorer.reference or "
                "explorer.exploitation (the paper starts from either) and warmup.enabled false"
            )
        if self.model.trust_remote_code and self.model.is_tiny:
            raise ValueError("model.trust_remote_code applies to hub models only; the tiny model has no remote code")
        return self


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ArenaError(f"override --{dotted}: '{key}' is a value, not a section")
        node = child
    node[keys[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Apply overrides to a config dict: `--section.key value` pairs as on the command line (values parsed as
    YAML: numbers, booleans, lists), or a mapping of dotted keys to Python values (`{"grpo.steps": 30}`)."""
    if isinstance(overrides, Mapping):
        for key in overrides:
            if not isinstance(key, str) or not key.strip("-"):
                raise ArenaError(f"override keys are dotted field paths like 'grpo.steps', got {key!r}")
        # Whole sections before the keys inside them, whatever the order given; values are copied, so the
        # caller's dicts are never changed by a later dotted key.
        for key in sorted(overrides, key=lambda k: k.removeprefix("--").count(".")):
            _set_path(data, key.removeprefix("--"), copy.deepcopy(overrides[key]))
        return data
    if isinstance(overrides, str):
        raise ArenaError(
            f"overrides are a list of '--section.key value' pairs or a mapping, not a string: {overrides!r}"
        )
    items = list(overrides)
    if len(items) % 2:
        raise ArenaError(f"overrides come in pairs '--section.key value'; '{items[-1]}' has no value")
    for flag, raw in zip(items[::2], items[1::2], strict=True):
        if not flag.startswith("--") or len(flag) < 3:
            raise ArenaError(f"expected an override like --grpo.steps, got {flag!r}")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as exc:
            raise ArenaError(
                f"override {flag}: {raw!r} is not a valid value ({_yaml_problem(exc)}); write a number, true/false, "
                f"a list like [1, 2] or a mapping like {{a: 1}}, or quote a string: {flag} '\"{raw}\"'"
            ) from None
        _set_path(data, flag[2:], value)
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's own words for what is wrong, without its multi-line excerpt of the text."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return f"{context}, {problem}" if context else problem


# A preset's optional top-level mapping of values that replace the file's when the run trains on a CPU, so one
# file holds the full GPU run and a short CPU run of the same recipe.
ON_CPU = "on_cpu"


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _trains_on_cpu(data: Mapping[str, Any]) -> bool:
    """Where `run.device` (default auto) puts the run: auto means CUDA when torch sees a GPU."""
    run = data.get("run")
    device = run.get("device", "auto") if isinstance(run, Mapping) else "auto"
    if device in ("cpu", "cuda"):
        return device == "cpu"
    try:
        import torch
    except ImportError:
        return True
    return not torch.cuda.is_available()


def load_train_config(path: str | Path | None, overrides: Sequence[str] | Mapping[str, Any] = ()) -> TrainConfig:
    """A validated TrainConfig from a YAML file (or defaults) plus overrides (see `apply_overrides`); errors name
    the field to fix. A file's `on_cpu` mapping replaces its values when the run trains on a CPU (run.device cpu,
    or auto without a GPU); overrides apply last either way."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ArenaError(f"config file {str(p)!r} not found; presets live in configs/")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise ArenaError(
                f"config file {str(p)!r} is not valid YAML{where}: {_yaml_problem(exc)}; fix it there "
                "(the presets in configs/ show the layout)"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ArenaError(f"config file {str(p)!r} cannot be read ({exc}); pass a readable YAML file") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ArenaError(f"config file {str(p)!r} must hold a mapping of sections, not {type(loaded).__name__}")
        data = loaded or {}
    on_cpu = data.pop(ON_CPU, None)
    if on_cpu is not None and not isinstance(on_cpu, dict):
        raise ArenaError(f"{ON_CPU} in {str(path)!r} must be a mapping of sections, like the config itself")
    merged = copy.deepcopy(data)
    apply_overrides(merged, overrides)
    if on_cpu and _trains_on_cpu(merged):
        # The preset's CPU variant: its on_cpu values replace the file's, and command-line overrides still win.
        merged = _deep_merge(data, on_cpu)
        apply_overrides(merged, overrides)
    data = merged
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ArenaError(f"invalid training config{f' {str(path)!r}' if path else ''}:\n{_explain(exc)}") from exc
    except ArenaError as exc:
        raise ArenaError(f"invalid training config: {exc}") from exc


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")  # pydantic's prefix for our own checks' messages
        lines.append(f"  {where}: {message}" + (f" (got {err['input']!r})" if "input" in err else ""))
    return "\n".join(lines)


def config_to_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
