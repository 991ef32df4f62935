"""applier: Flux's Kustomization on a real cluster (kustomize-controller's semantics).

reconcile.py   the stage: source, dependsOn, build, apply, inventory, prune, health, status
build.py       kubectl kustomize with Flux's generated kustomization.yaml and overlay
plain.py       the same build in this process for a plain list of files, pure
substitute.py  postBuild substitution (Flux's envsubst), pure
objects.py     identity, inventory ids, kind order, Flux's labels/annotations, drift, pure
health.py      kstatus health rules, pure
manager.py     validate (server-side dry run) then apply in stages; prune; wait
errors.py      the applier's errors in the project's error tree (the API's: adapters.kube)
diff.py        ``conveyor diff kustomization NAME``
"""
