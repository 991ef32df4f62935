"""The ``conveyor`` command: run every service, one service's worker, or the demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from shared.bus import CeleryDispatcher, InlineDispatcher, configure
from shared.embedded import EmbeddedRedis, broker_url
from shared.events import OWNERS, ReconcileRequested
from shared.models import FluxObject, load_directory
from shared.runtime import Context, Settings, handle
from shared.store import Store, wait_for_redis

log = logging.getLogger("conveyor")

TICK_SECONDS = 1.0


# --- manifests ---------------------------------------------------------------------------


def sync_manifests(store: Store, directory: Path) -> list[str]:
    """Make the store's objects those of ``directory``; return the manifest errors."""
    result = load_directory(directory)
    store.replace_objects(result.objects)
    return result.errors


def ordered_objects(store: Store) -> list[FluxObject]:
    from services.stages import REPORTED_KINDS

    return [obj for kind in REPORTED_KINDS for obj in store.list_objects(kind)]


# --- reporting ---------------------------------------------------------------------------


def report(store: Store, errors: list[str]) -> tuple[list[dict[str, Any]], bool]:
    rows: list[dict[str, Any]] = []
    all_ready = not errors
    for obj in ordered_objects(store):
        status = store.get_status(obj.key)
        ready = status.ready
        all_ready = all_ready and ready is not None and ready.status == "True"
        rows.append(
            {
                "kind": obj.kind,
                "namespace": obj.namespace,
                "name": obj.name,
                "status": status.wire(),
            }
        )
    return rows, all_ready


def print_report(rows: list[dict[str, Any]], errors: list[str], output: str) -> None:
    if output == "json":
        body: list[dict[str, Any]] = [{"kind": "ManifestError", "error": e} for e in errors]
        print(json.dumps(body + rows, indent=2))
        return
    for error in errors:
        print(f"error: {error}")
    for row in rows:
        ready = next((c for c in row["status"].get("conditions", []) if c["type"] == "Ready"), None)
        state = ready["status"] if ready else "Unknown"
        reason = ready["reason"] if ready else "Progressing"
        message = ready["message"] if ready else "not reconciled"
        print(
            f"{row['kind']}\t{row['namespace']}/{row['name']}\tReady={state}\t{reason}\t{message}"
        )


# --- run -----------------------------------------------------------------------------------


def run_once(store: Store, settings: Settings, source: Source, output: str) -> int:
    from services.receiver.reconcile import refresh_receivers
    from services.stages import STAGES

    errors = source.refresh(store, force=True)
    dispatcher = InlineDispatcher()
    ctx = Context(store=store, dispatcher=dispatcher, settings=settings)
    for obj in ordered_objects(store):
        if obj.kind in OWNERS:
            store.reset_due(obj.key)
            event = ReconcileRequested(
                kind=obj.kind, namespace=obj.namespace, name=obj.name, reason="once"
            )
            dispatcher.send(OWNERS[obj.kind], event.to_message())
    dispatcher.drain(lambda service, message: handle(STAGES[service], message, ctx))
    refresh_receivers(ctx)
    source.refresh(store)  # a cluster source writes the statuses back
    rows, all_ready = report(store, errors)
    print_report(rows, errors, output)
    return 0 if all_ready else 1


def tick(store: Store, dispatcher: CeleryDispatcher, kinds: Sequence[str]) -> None:
    """Queue a reconcile for every object whose interval elapsed (once across all workers)."""
    for kind in kinds:
        for obj in store.list_objects(kind):
            interval = getattr(obj.spec, "interval", None)
            if interval and store.claim_due(obj.key, interval):
                event = ReconcileRequested(
                    kind=obj.kind, namespace=obj.namespace, name=obj.name, reason="interval"
                )
                dispatcher.send(OWNERS[obj.kind], event.to_message())


class ManifestSource:
    """The objects of a manifest directory, re-read when a file in it changed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stamp = -1.0

    def refresh(self, store: Store, *, force: bool = False) -> list[str]:
        newest = max((p.stat().st_mtime for p in self.directory.rglob("*")), default=0.0)
        if not force and newest == self._stamp:
            return []
        self._stamp = newest
        return sync_manifests(store, self.directory)


class Source(Protocol):
    """Where the Flux objects come from: a manifest directory or a cluster."""

    def refresh(self, store: Store, *, force: bool = False) -> list[str]: ...


def open_source(args: argparse.Namespace, settings: Settings) -> Source | None:
    """``--manifests DIR`` or ``--from-cluster`` (KUBECONFIG, or the pod's credentials)."""
    if getattr(args, "from_cluster", False):
        from services.applier.cluster import configured_target, connect
        from services.cluster_source import ClusterSource

        target = configured_target(settings.kubeconfig, settings.in_cluster)
        if target is None:
            print("error: --from-cluster needs KUBECONFIG or a pod", file=sys.stderr)
            return None
        return ClusterSource(connect(target))
    if not args.manifests:
        return None
    directory = manifests_dir(args)
    return ManifestSource(directory) if directory is not None else None


def start_ticker(store: Store, kinds: Sequence[str], source: Source | None) -> threading.Thread:
    dispatcher = CeleryDispatcher()

    def loop() -> None:
        while True:
            try:
                if source is not None:
                    for error in source.refresh(store):
                        log.error("%s", error)
                tick(store, dispatcher, kinds)
            except Exception:
                log.exception("interval ticker")
            time.sleep(TICK_SECONDS)

    thread = threading.Thread(target=loop, name="conveyor-ticker", daemon=True)
    thread.start()
    return thread


def start_worker(queues: Sequence[str], concurrency: int) -> None:
    """Run the Celery worker for ``queues`` in this thread until it is stopped."""
    from services.stages import STAGES, worker_context
    from shared.bus import app, register

    for service in queues:
        register(STAGES[service], worker_context)
    app.worker_main(
        [
            "worker",
            "-Q",
            ",".join(queues),
            "-P",
            "threads",
            "-c",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
            "-n",
            f"conveyor-{'-'.join(queues) if len(queues) == 1 else 'all'}@%h",
        ]
    )


@contextlib.contextmanager
def local_state(args: argparse.Namespace) -> Iterator[tuple[str, Store, Settings]]:
    """The Redis of ``--redis``/``REDIS_URL``, or an embedded one under the data directory
    (stopped, its state saved, on the way out); the store on it; the settings."""
    settings = Settings(data_dir=Path(args.data)) if args.data else Settings()
    url = args.redis or os.environ.get("REDIS_URL")
    embedded = None
    if not url:
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        url = embedded.url
    try:
        store = Store.from_url(url)
        wait_for_redis(store.redis)
        yield url, store, settings
    finally:
        if embedded is not None:
            embedded.close()


def manifests_dir(args: argparse.Namespace) -> Path | None:
    directory = Path(args.manifests)
    if not directory.exists():
        print(f"error: {directory}: no such file or directory", file=sys.stderr)
        return None
    return directory


def cmd_run(args: argparse.Namespace) -> int:
    source = open_source(args, Settings())
    if source is None:
        return 2
    with local_state(args) as (url, store, settings):
        if args.once:
            return run_once(store, settings, source, args.output)
        os.environ["REDIS_URL"] = url
        configure(broker_url(url))
        start_ticker(store, list(OWNERS), source)
        if args.listen:
            start_receiver(args.listen, url)
        start_worker(list(OWNERS.values()), args.concurrency)
        return 0


def start_receiver(listen: str, redis_url: str) -> threading.Thread:
    import uvicorn

    from services.receiver.app import create_app

    host, _, port = listen.rpartition(":")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(redis_url), host=host or "127.0.0.1", port=int(port), log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="conveyor-receiver", daemon=True)
    thread.start()
    return thread


def cmd_worker(args: argparse.Namespace) -> int:
    url = args.redis or os.environ.get("REDIS_URL")
    if not url:
        print("error: conveyor worker needs REDIS_URL (or --redis)", file=sys.stderr)
        return 2
    os.environ["REDIS_URL"] = url
    store = Store.from_url(url)
    wait_for_redis(store.redis, timeout=60)
    source = open_source(args, Settings()) if (args.manifests or args.from_cluster) else None
    configure(broker_url(url))
    if args.service == "receiver":
        import uvicorn

        from services.receiver.app import create_app

        if source is not None:
            start_ticker(store, [], source)
        host, _, port = args.listen.rpartition(":")
        uvicorn.run(create_app(url), host=host, port=int(port), log_level="info")
        return 0
    kinds = [kind for kind, service in OWNERS.items() if service == args.service]
    start_ticker(store, kinds, source)
    start_worker([args.service], args.concurrency)
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    """Print the tags a scan of IMAGE would see, with the same auth and TLS options."""
    from services.registry_scanner.auth import Credentials, credentials_from_dockerconfigjson
    from services.registry_scanner.reconcile import exclude
    from services.registry_scanner.reference import parse_image
    from services.registry_scanner.registry import RegistryClient, RegistryOptions
    from shared.errors import ConveyorError

    try:
        ref = parse_image(args.image)
        credentials = None
        if args.docker_config:
            credentials = credentials_from_dockerconfigjson(
                Path(args.docker_config).read_bytes(), ref.registry
            )
        if args.username:
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
            credentials = Credentials(args.username, password)
        options = RegistryOptions(
            insecure=args.insecure,
            credentials=credentials,
            ca_pem=Path(args.ca_file).read_bytes() if args.ca_file else None,
            client_cert_pem=Path(args.cert_file).read_bytes() if args.cert_file else None,
            client_key_pem=Path(args.key_file).read_bytes() if args.key_file else None,
            timeout=args.timeout,
        )
        with RegistryClient(ref, options) as client:
            tags = exclude(client.list_tags(), args.exclude, f"image {args.image}")
            requests = client.requests_made
    except (ConveyorError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for tag in tags:
        print(tag)
    print(f"{len(tags)} tags of {ref.canonical} ({requests} requests)", file=sys.stderr)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """What applying a Kustomization's revision would change (server-side dry run)."""
    from services.applier.diff import run_diff

    directory = manifests_dir(args)
    if directory is None:
        return 2
    with local_state(args) as (_, store, settings):
        for error in sync_manifests(store, directory):
            print(f"error: {error}", file=sys.stderr)
        return run_diff(store, settings, args.namespace, args.name, sys.stdout)


def cmd_demo(args: argparse.Namespace) -> int:
    from services.demo import run_demo

    return run_demo(Path(args.dir), args.tags, args.kubeconfig)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="conveyor", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run every service (embedded Redis unless REDIS_URL)")
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument("--manifests", help="directory of Flux manifests")
    where.add_argument(
        "--from-cluster",
        action="store_true",
        help="read the Flux objects from the cluster (KUBECONFIG) and write their status back",
    )
    run.add_argument("--once", action="store_true", help="reconcile everything once and exit")
    run.add_argument("--output", choices=("text", "json"), default="text")
    run.add_argument("--redis", help="Redis URL (default: $REDIS_URL, else embedded)")
    run.add_argument("--data", help="data directory (default: $CONVEYOR_DATA)")
    run.add_argument("--listen", default="127.0.0.1:9292", help="receiver address ('' for none)")
    run.add_argument("--concurrency", type=int, default=4)
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="run one service against REDIS_URL")
    worker.add_argument("service", choices=[*OWNERS.values(), "receiver"])
    worker.add_argument("--redis", help="Redis URL (default: $REDIS_URL)")
    worker_where = worker.add_mutually_exclusive_group()
    worker_where.add_argument("--manifests", help="load and watch this directory of manifests")
    worker_where.add_argument(
        "--from-cluster", action="store_true", help="load the Flux objects from the cluster"
    )
    worker.add_argument("--listen", default="0.0.0.0:9292", help="receiver address")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.set_defaults(func=cmd_worker)

    scan = sub.add_parser("scan", help="print the tags a scan of IMAGE would see")
    scan.add_argument("image", help="image as in ImageRepository spec.image, e.g. ghcr.io/org/app")
    scan.add_argument("--insecure", action="store_true", help="allow plain HTTP / self-signed")
    scan.add_argument("--username", help="registry user (password on stdin, see below)")
    scan.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    scan.add_argument("--docker-config", help="a .dockerconfigjson file with credentials")
    scan.add_argument("--ca-file", help="PEM CA bundle (as certSecretRef ca.crt)")
    scan.add_argument("--cert-file", help="client certificate (tls.crt)")
    scan.add_argument("--key-file", help="client key (tls.key)")
    scan.add_argument("--timeout", type=float, default=60.0)
    scan.add_argument(
        "--exclude", action="append", default=None, help="exclusion regex (default ^.*\\.sig$)"
    )
    scan.set_defaults(func=cmd_scan)

    diff = sub.add_parser("diff", help="show what applying a Kustomization would change")
    diff.add_argument("kind", choices=["kustomization"])
    diff.add_argument("name")
    diff.add_argument("--namespace", "-n", default="flux-system")
    diff.add_argument("--manifests", required=True, help="directory of Flux manifests")
    diff.add_argument("--redis", help="Redis URL (default: $REDIS_URL, else embedded)")
    diff.add_argument("--data", help="data directory (default: $CONVEYOR_DATA)")
    diff.set_defaults(func=cmd_diff)

    demo = sub.add_parser("demo", help="create the seed's demo (bare repo + registry) and run it")
    demo.add_argument("--dir", default=".demo", help="where to create the demo")
    demo.add_argument("--tags", type=int, default=5, help="how many CI tags to push")
    demo.add_argument(
        "--kubeconfig", help="also apply to this cluster (default: no cluster is touched)"
    )
    demo.set_defaults(func=cmd_demo)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "exclude", False) is None:
        args.exclude = [r"^.*\.sig$"]
    logging.basicConfig(
        level=os.environ.get("CONVEYOR_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
