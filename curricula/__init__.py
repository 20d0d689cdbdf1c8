"""Curricula: schedulers that pick the opponent, seat, start position and seed of each episode."""
