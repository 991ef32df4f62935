"""Adapters: each owns one third-party client and translates its errors at the boundary.

git.py   Git remotes (GitPython and the git CLI): fetch, archive, clone, commit, sign, push
kube.py  the Kubernetes API server (the kubernetes client): discovery, server-side apply,
         the API's errors, the field manager, a ServiceAccount's image pull secrets
oci/     OCI registries (httpx): image references, credentials and challenges, tag lists
"""
