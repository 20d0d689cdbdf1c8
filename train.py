"""GRPO entry point: `python train.py --config configs/tictactoe-tiny-cpu.yaml [--section.key value ...]`.

Config in, trainer out; the job itself lives in `arena.training.job`.
"""

import os
import sys

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is TRL-experimental; we pin and test it

from arena.training.job import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
