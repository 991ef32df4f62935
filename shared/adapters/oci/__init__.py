"""The OCI Distribution adapter.

reference.py  image references as Docker normalizes them (pure)
auth.py       credentials of a dockerconfigjson, WWW-Authenticate challenges (pure)
client.py     the registry client: tags and digests over httpx, auth, TLS, retries
signatures.py cosign's signatures of an image as the registry holds them (read, not verified)
"""
