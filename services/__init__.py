"""conveyor.services: one package per stage, and what composes them.

Stages (leaves: each imports conveyor.shared and nothing of another stage)
  source_fetcher/    GitRepository            registry_scanner/  ImageRepository
  policy_evaluator/  ImagePolicy              git_committer/     ImageUpdateAutomation
  applier/           Kustomization            receiver/          Receiver, webhooks, status API
Composition
  runner.py   run, run --once, worker, diff: store, settings, source and dispatcher composed
  cli.py      the ``conveyor`` command: a parser over the runner
  demo/       ``conveyor demo``: a registry, a bare repository and the runner
  ctl/        the Day-2 verbs: get, reconcile, suspend, resume, events, tree (flux's shapes)
"""
