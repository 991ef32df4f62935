"""source-fetcher: Flux's GitRepository (source-controller's semantics).

reconcile.py  the stage: resolve spec.ref, fetch, build the artifact when it changed, announce it
content.py    what the artifact holds: include, submodules, sparse checkout, verify; when to rebuild
artifact.py   a checked-out tree (with its includes) to a tar.gz, without what is ignored
ignore.py     .sourceignore, spec.ignore and Flux's default exclusions
verify.py     a commit's or tag's OpenPGP or SSH signature against a Secret's keys
"""
