"""Shared helpers for the console tests: drive a call through the in-memory phone network."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from cti.keys import CALL_CENTER
from cti.sip.memory import MemoryPhoneNetwork


async def settle(app: Any, predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        await app[CALL_CENTER].wait_for(predicate)


async def call_to_menu(app: Any, network: MemoryPhoneNetwork, caller: str = "2345") -> str:
    """Dial, hear the greeting to its end, and wait for the menu; returns the call id."""
    call_id = network.dial(caller=caller)
    await settle(app, lambda: network.call(call_id).playing == ("greeting",))
    network.finish_playback(call_id)
    await settle(app, lambda: (network.call(call_id).playing or ("",))[0].startswith("menu_"))
    return call_id
