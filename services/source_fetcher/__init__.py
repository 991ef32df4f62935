"""source-fetcher: Flux's GitRepository (source-controller's semantics).

reconcile.py  the stage: resolve spec.ref, fetch, store the tree as the artifact, announce it
"""
