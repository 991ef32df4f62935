"""A bare repository that records what each push brought it: a real ``post-receive`` hook writes
the refs it updated and the push options ``git receive-pack`` handed it (``GIT_PUSH_OPTION_*``)
as one JSON line per push. ``receive.advertisePushOptions`` decides whether the remote takes push
options at all (a remote that does not advertise them gets none)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HOOK = """#!{python}
import json, os, sys
count = os.environ.get("GIT_PUSH_OPTION_COUNT")
options = None
if count is not None:
    options = [os.environ[f"GIT_PUSH_OPTION_{{i}}"] for i in range(int(count))]
refs = {{line.split()[2]: line.split()[1] for line in sys.stdin if line.strip()}}
with open({log!r}, "a") as fh:
    fh.write(json.dumps({{"options": options, "refs": refs}}) + "\\n")
"""


def record_pushes(bare: Path, *, advertise: bool = True) -> Path:
    """Install the recording hook in ``bare``; return the log it writes."""
    log = bare / "pushes.jsonl"
    hook = bare / "hooks" / "post-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(HOOK.format(python=sys.executable, log=str(log)))
    hook.chmod(0o755)
    value = "true" if advertise else "false"
    subprocess.run(
        ["git", "--git-dir", str(bare), "config", "receive.advertisePushOptions", value],
        check=True,
    )
    return log


def pushes(log: Path) -> list[dict[str, Any]]:
    """Each push the remote received: ``{"options": [...] or None, "refs": {ref: new}}``."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]
