"""The registry of senders is the one list of a household's channels: every name its
settings accept has a sender, and no sender waits for a name the settings refuse."""

from typing import get_args

from facewatch.alerts.delivery import SENDERS
from facewatch.household.settings import ChannelName


def test_every_channel_a_household_may_choose_has_one_sender():
    assert list(SENDERS) == list(get_args(ChannelName))
