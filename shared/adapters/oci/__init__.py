"""The OCI Distribution adapter.

reference.py  image references as Docker normalizes them (pure)
auth.py       credentials of a dockerconfigjson, WWW-Authenticate challenges (pure)
client.py     the registry client: tags and digests over httpx, auth, TLS, retries
"""

import sys

# httpx imports its command-line tool (rich, pygments, click: about 6 MB a process) whenever
# those happen to be installed; a None entry in sys.modules makes that import fail as if they
# were not, and httpx goes on without the CLI, which conveyor never runs.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
