"""registry-scanner: Flux's ImageRepository (image-reflector-controller's scan).

reconcile.py  the stage: list the tags through the OCI adapter, exclude, store, announce
"""
