"""Position generators shared by several test modules."""

from __future__ import annotations

import numpy as np


def near_full_positions(game, empties, count, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        state = game.initial_state()
        total = game.info.max_game_length
        while not game.is_over(state) and sum(state.heights) < total - empties:
            state = game.apply(state, int(rng.choice(game.legal_moves(state))))
        if not game.is_over(state):
            out.append(state)
    return out
