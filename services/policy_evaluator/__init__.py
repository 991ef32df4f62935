"""policy-evaluator: Flux's ImagePolicy (image-reflector-controller's policies).

policy.py     filterTags, extract, semver / numerical / alphabetical ordering (pure)
reconcile.py  the stage: the latest tag of the scanned tags, digest reflection, announce it
"""
