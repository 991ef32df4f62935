"""The HTTP server of the receiver: uvicorn's, ticking once a second instead of ten times.

uvicorn's main loop wakes every 0.1 s to refresh its ``Date`` header (once a second), call
``callback_notify`` and look at ``should_exit``; idle, those wakes were a third of a
per-cent of a core in the process that serves the receiver. Here the loop wakes once a second
and tells ``on_tick`` a counter that keeps uvicorn's once-a-second work once a second. A
signal or ``should_exit`` stops it within a second."""

from __future__ import annotations

import asyncio

import uvicorn

TICK_SECONDS = 1.0


class QuietServer(uvicorn.Server):
    """``uvicorn.Server`` whose main loop ticks every ``TICK_SECONDS``."""

    ticks = 0  # how many times the loop woke (for the tests)

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # uvicorn's ticks are tenths of a second
            await asyncio.sleep(TICK_SECONDS)
            self.ticks += 1
            should_exit = await self.on_tick(counter)
