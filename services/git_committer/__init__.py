"""git-committer: Flux's ImageUpdateAutomation (image-automation-controller's semantics).

setters.py    the ``$imagepolicy`` markers rewritten in YAML text (pure)
template.py   Go's text/template for the commit message (pure)
message.py    the data the template sees
reconcile.py  the stage: check out, update the markers, commit (signed), push, announce
preview.py    what a run would commit now, stopped before the commit (conveyor preview)
"""
