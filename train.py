"""Train a language model to play a game with GRPO:
`python train.py --config configs/tictactoe-tiny-cpu.yaml [--section.key value ...]`.

A run, in the order it happens (`arena.training.job.train`), and where each step lives:

1. The config: every field in `arena/training/config.py` (`--section.key value` overrides one), saved in the run
   directory as config.yaml.
2. The model: the embedded tiny one (`arena/models/tiny.py`) or a folder, run, catalog model or hub id
   (`arena/models/loading.py`).
3. The format warm-up (`arena/training/warmup.py`): supervised steps on random legal moves; it teaches the answer
   format only.
4. The evaluation before GRPO (`arena/evaluation/runner.py`): seat-balanced games against each tier.
5. GRPO, where TRL's GRPOTrainer does the optimisation (`arena/training/grpo.py` gives it its config and rollout
   function). Each step the curriculum (`curricula/`) picks the games, the policy plays them
   (`arena/training/rollout.py`, through `arena/batch.py` and `arena/env.py`), and their rewards go back to TRL.
6. The evaluation after GRPO and the before/after table. The run directory holds the checkpoints, final/, the
   metrics and the learning curves; Ctrl-C saves a checkpoint, and `--resume <run>` goes on from it.
"""

import os
import sys

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is TRL-experimental; we pin and test it

from arena.training.job import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
