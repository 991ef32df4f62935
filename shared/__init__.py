"""conveyor.shared: what every stage imports, and nothing of any stage.

Vocabulary   models.py (spec and object model of every kind), status.py (Flux's status
             fields), kinds.py (THE registry of kinds: model, status, group, versions,
             owning service, order, reported), events.py (events and which stage each wakes),
             errors.py (the one error tree)
Plumbing     runtime.py (Settings, Context, Stage, the reconcile loop), bus.py (Celery app,
             dispatchers), store.py (Redis state), embedded.py (the embedded Redis),
             metrics.py (counters and histograms each process records, summed in Redis)
Objects in   manifests.py (YAML into objects, file and line in every error), yamlsrc.py
             (bounded YAML with line numbers), sources.py (a manifest folder or a cluster)
Reaching out credentials.py (Git auth and registry options of an object's Secrets)
Semantics    goregexp.py (Go's regexp on RE2), semver.py (Masterminds semver v3)
adapters/    git.py, kube.py, oci/: Git by its CLI; the only modules that import the kubernetes
             client and httpx; they know the error tree (and deadline.py, metrics.py) and
             nothing else of conveyor
"""
