"""Plugging in a game: register_game(), the `arena.games` entry-point group, and the `arena` CLI."""

from __future__ import annotations

import textwrap

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import arena
from arena.cli import main
from arena.errors import ArenaError
from arena.games import registry
from opponents import make_opponent

PLUGIN = textwrap.dedent(
    '''
    """A third-party game: take 1-3 stones from a pile; whoever takes the last stone wins."""
    from typing import NamedTuple

    from arena.games import DRAW, Game, GameInfo, GameSpec
    from arena.text import Renderer


    class PileState(NamedTuple):
        stones: int
        player: int


    class TakeAway(Game):
        info = GameInfo(name="takeaway", num_players=2, max_game_length=15, num_moves=3)

        def initial_state(self):
            return PileState(15, 0)

        def to_move(self, state):
            return state.player

        def legal_moves(self, state):
            return tuple(m for m in range(3) if m + 1 <= state.stones)

        def apply(self, state, move):
            from arena.errors import IllegalMoveError

            if move not in self.legal_moves(state):
                raise IllegalMoveError(f"illegal move {move!r}: take 1-3 stones, at most {state.stones}")
            return PileState(state.stones - move - 1, 1 - state.player)

        def winner(self, state):
            return (1 - state.player) if state.stones == 0 else None

        def key(self, state):
            return state

        def board(self, state):
            return ((0,) * state.stones,)


    class PileRenderer(Renderer):
        title = "take-away"

        def rules(self):
            return "Take 1-3 stones; move N takes N+1. Whoever takes the last stone wins."

        def render(self, state):
            return f"Stones left: {state.stones}"


    def spec():
        return GameSpec(name="takeaway", make_game=TakeAway, make_renderer=PileRenderer, env_id="plugin/TakeAway-v0")
    '''
)


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Install a plugin distribution on sys.path that advertises its game through the entry-point group."""
    (tmp_path / "takeaway_plugin.py").write_text(PLUGIN)
    dist = tmp_path / "takeaway_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: takeaway-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[arena.games]\ntakeaway = takeaway_plugin:spec\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    yield
    registry._REGISTRY.pop("takeaway", None)
    gym.registry.pop("plugin/TakeAway-v0", None)


def test_entry_point_game_gets_env_and_opponents_for_free(plugin):
    game = arena.make_game("takeaway")
    assert game.name == "takeaway"
    env = gym.make("plugin/TakeAway-v0", opponent="perfect", agent_seat="first")
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert obs == "Stones left: 15\nYou play X. Legal moves: 0 1 2"
    # 15 stones: taking 3 (move 2) leaves a multiple of 4, the only winning move.
    assert make_opponent("perfect", game).best_moves(game.initial_state()) == (2,)
    obs, reward, terminated, truncated, info = env.step("<think>leave a multiple of 4</think><move>2</move>")
    assert info["moves"][0] == 2 and not terminated


def test_listed_by_cli(plugin, capsys):
    assert main(["games"]) == 0
    out = capsys.readouterr().out
    assert "takeaway" in out and "plugin/TakeAway-v0" in out and "connect_four" in out


def test_register_game_rejects_duplicates_and_bad_names():
    spec = arena.get_spec("tictactoe")
    assert arena.register_game(spec) is spec  # the same spec again is a no-op
    with pytest.raises(ArenaError, match="already registered"):
        arena.register_game(registry.GameSpec("tictactoe", spec.make_game, spec.make_renderer, "other/Id-v0"))
    with pytest.raises(ArenaError, match="must be letters"):
        arena.register_game(registry.GameSpec("tic tac", spec.make_game, spec.make_renderer, "x/Y-v0"))


def test_broken_plugin_warns_but_builtins_survive(tmp_path, monkeypatch):
    dist = tmp_path / "broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[arena.games]\nbroken = no_such_module:spec\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    with pytest.warns(UserWarning, match="could not load game entry point 'broken'"):
        names = [s.name for s in arena.list_games()]
    assert {"tictactoe", "connect_four"} <= set(names)


def test_cli_demo_plays_tiers(capsys):
    assert main(["demo", "--games", "20", "--tiers", "random", "perfect"]) == 0
    out = capsys.readouterr().out
    assert "random" in out and "perfect" in out


def test_cli_errors_are_reported_not_raised(capsys):
    assert main(["demo", "--game", "chess"]) == 2
    assert "unknown game 'chess'" in capsys.readouterr().out


def test_play_match_seats_alternate_and_perfect_never_loses():
    from arena.cli import play_match

    tally = play_match("tictactoe", "perfect", "random", 60, seed=1)
    assert tally["random"] == 0 and tally["perfect"] + tally["draws"] == 60
