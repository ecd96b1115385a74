"""How the board tells a call's commands apart (``board_calls._carry_out``): by exact
type, so every command must have exactly one way through, and none may be subclassed."""

from __future__ import annotations

from typing import get_args

from callrouter.core import board_calls
from callrouter.core import commands as cmd
from callrouter.core.board_commands import ChannelCommand


def test_every_call_command_is_a_record_for_the_channel_or_for_the_board_and_only_one() -> None:
    every = set(get_args(cmd.Command))
    written = {cmd.LogEvent, cmd.SaveCall}
    channel = set(board_calls._CHANNELS_TYPES)
    board = set(get_args(board_calls.BoardsPart))
    assert channel <= set(get_args(ChannelCommand))
    assert not channel & board and not written & (channel | board)
    assert every == written | channel | board, every ^ (written | channel | board)


def test_no_call_command_is_subclassed() -> None:
    """A subclass would not be matched by its type (it would fall through to the board's
    ``assert_never``)."""
    for kind in get_args(cmd.Command):
        assert not kind.__subclasses__(), kind
