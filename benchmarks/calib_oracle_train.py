"""Calibration only (never a training recipe): turn-GRPO with each answer scored by its move's solved value.

    python benchmarks/calib_oracle_train.py --config configs/tictactoe-tiny-cpu.yaml [train.py's overrides ...]

`train.py` as it is, except that after each turn rollout every answer that played a legal move has its outcome
replaced by the solved value of that move (win 1, draw 0.5, loss 0, the env's reward values) instead of the
result of its play-out; format and invalid-move components stay as played. Same games, same update, perfect
labels for the moves tried. If it learns no faster than the main job, the play-outs' noise is not what limits
learning. Tic-tac-toe (any game `perfect` can solve) with `grpo.rollout: turn` only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from calib_grpo_update import solved_outcome  # noqa: E402

from arena.games.registry import make_game  # noqa: E402
from arena.rewards import RewardConfig  # noqa: E402
from arena.training import rollout  # noqa: E402
from opponents.minimax import Minimax  # noqa: E402


def relabel(episodes: Sequence[rollout.Episode], game: Any, solver: Minimax, rewards: RewardConfig) -> None:
    """Give every episode whose first answer played a legal move the solved outcome of that move."""
    for ep in episodes:
        first = ep.transcript[0]
        move = first["agent_move"]
        if move is None or first["invalid"]:
            continue
        moves = list(ep.info["moves"])
        value = solver.move_values(game.play(moves[: moves.index(move)]))[move]
        ep.components["outcome"] = solved_outcome(value, rewards)
        ep.reward = float(sum(ep.components.values()))


def main(argv: Sequence[str] | None = None) -> int:
    original = rollout.GameRunner.play_decisions
    solvers: dict[str, tuple[Any, Minimax]] = {}

    def play_decisions(self: rollout.GameRunner, *args: Any, **kwargs: Any) -> list[rollout.Episode]:
        episodes = original(self, *args, **kwargs)
        if self.game not in solvers:
            game = make_game(self.game, **self.game_kwargs)
            solvers[self.game] = (game, Minimax(game))
        relabel(episodes, *solvers[self.game], self.env_config.rewards)
        return episodes

    rollout.GameRunner.play_decisions = play_decisions  # type: ignore[method-assign]
    from arena.training.job import main as train_main

    return train_main(None if argv is None else list(argv))


if __name__ == "__main__":
    sys.exit(main())
