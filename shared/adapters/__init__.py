"""Adapters: each owns one third-party client and translates its errors at the boundary.

git.py   Git remotes (the git CLI): fetch, archive, clone, commit, sign, push
kube.py  the Kubernetes API server (the kubernetes client): discovery, server-side apply,
         the API's errors, the field manager, a ServiceAccount's image pull secrets
oci/     OCI registries (httpx): image references, credentials and challenges, tag lists
forge.py the forges' APIs (httpx): pull requests on GitHub, GitLab, Gitea
webhook.py  notifications out (httpx): a Provider's POST, retried as Flux retries it
cel.py   CEL as Flux compiles it (a Receiver's filters)
"""

import sys

# httpx imports its command-line tool (rich, pygments, click: about 6 MB a process) whenever
# those happen to be installed; a None entry in sys.modules makes that import fail as if they
# were not, and httpx goes on without the CLI, which conveyor never runs. Here, so that it holds
# for every adapter that uses httpx (oci, forge, webhook).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
