"""What the CLI tests share: run a verb as a user would (a process, an environment), follow
the output of one that keeps running (``--watch``), wait for a condition."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self


def cli_env(data: Path, *also: str) -> dict[str, str]:
    """The environment of a user on this machine whose conveyor keeps its data in ``data``: no
    REDIS_URL (the embedded Redis), no cluster, nor any of ``also``."""
    env = {**os.environ, "CONVEYOR_DATA": str(data)}
    for name in ("REDIS_URL", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", *also):
        env.pop(name, None)
    return env


@contextlib.contextmanager
def conveyor_run(
    manifests: Path, env: dict[str, str], port: int, log: Path, kubeconfig: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``conveyor run --manifests`` in ``env`` (with ``kubeconfig``: applying to that cluster),
    its receiver on ``port``, its output in ``log``; stopped on the way out."""
    run_env = {**env, "KUBECONFIG": str(kubeconfig)} if kubeconfig is not None else env
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["conveyor", "run", "--manifests", str(manifests), "--listen", f"127.0.0.1:{port}"],
            env=run_env, stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            proc.wait(60)


def completions(env: dict[str, str], out: Path, line: str) -> list[str]:
    """What shell completion offers after ``line`` (argcomplete, as the shell asks it)."""
    asked = {**env, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
             "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "_ARGCOMPLETE_IFS": "\n"}
    subprocess.run(["conveyor"], env=asked, check=True, timeout=60)
    return sorted(out.read_text().split())


def ctl(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``conveyor ARGS`` in ``env``: its exit status, stdout and stderr."""
    done = subprocess.run(
        ["conveyor", *args], env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def ok(env: dict[str, str], *args: str) -> str:
    done = ctl(env, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def as_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(ok(env, *args, "-o", "json"))


def wait_for(what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


class Follow:
    """A verb that keeps running (``--watch``), its stdout read line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            ["conveyor", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, check: Callable[[str], bool], timeout: float = 120.0) -> str:
        """The first line (not yet seen) that passes ``check``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no such line within {timeout} s; seen: {self.seen}"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if check(line):
                return line

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
