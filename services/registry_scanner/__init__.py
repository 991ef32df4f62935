"""registry-scanner: Flux's ImageRepository (image-reflector-controller's scan).

tags.py       which tags a scan keeps (Go regexp exclusions), a tag set's revision (pure)
reconcile.py  the stage: list the tags through the OCI adapter, exclude, store, announce
"""
