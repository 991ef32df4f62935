"""The Day-2 verbs, with the ``flux`` CLI's shapes: ``conveyor get``, ``reconcile``, ``suspend``,
``resume``, ``events``, ``tree``, ``preview`` and ``completion``. The command line is not a
stage: these modules talk to a running conveyor, wherever its objects live.

kinds.py       the kinds as kubectl and flux spell them (plural, short names), pure
instance.py    the record a long-running ``conveyor run`` leaves in its data directory
backends.py    where the objects are: conveyor's Redis, the cluster, or the status API
output.py      Flux's table, its ►/✔/◎/✗ lines, hex truncation, Kubernetes' ages
get.py         ``conveyor get``
reconcile.py   ``conveyor reconcile``, ``suspend``, ``resume``
events.py      ``conveyor events``
tree.py        ``conveyor tree kustomization``
preview.py     ``conveyor preview automation`` (the git-committer's own steps, on the Redis)
completion.py  shell completion (argcomplete)

How a conveyor is found (``backends.connect``): ``--from-cluster`` (the Kubernetes API of
KUBECONFIG), ``--server`` (a status API, read-only), ``--redis``/``REDIS_URL``; else the
``conveyor run`` recorded in the data directory (``--data``, ``$CONVEYOR_DATA``, the default
one); else a status API on the default address, 127.0.0.1:9292 (the compose stack).
"""
