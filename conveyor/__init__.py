"""conveyor: a GitOps image-to-deploy pipeline that reads Flux's own manifests.

The import path of the two folders at the top of the repository: ``conveyor.shared`` is
``shared/`` (the library every stage imports: kinds, events, runtime, adapters) and
``conveyor.services`` is ``services/`` (one package per stage, the runner and the CLI).
This folder holds only this file and the two links; the wheel installs ``conveyor`` alone.
"""
