"""The receiver's HTTP server (``QuietServer``): served as uvicorn serves, ticking once a second."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import uvicorn

from conveyor.services.demo.registry import free_port
from conveyor.services.receiver.server import QuietServer


async def answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_it_serves_keeps_the_date_fresh_and_stops_ticking_once_a_second() -> None:
    port = free_port()
    server = QuietServer(
        uvicorn.Config(answer, host="127.0.0.1", port=port, log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    first = httpx.get(f"http://127.0.0.1:{port}/")
    assert first.status_code == 200 and first.text == "ok"
    ticks = server.ticks
    time.sleep(2.5)
    later = httpx.get(f"http://127.0.0.1:{port}/")
    assert later.headers["date"] != first.headers["date"]  # uvicorn's once-a-second refresh
    assert 1 <= server.ticks - ticks <= 3  # uvicorn's own loop: about 25
    server.should_exit = True
    thread.join(5)
    assert not thread.is_alive()
