"""The ``conveyor`` command: a parser. Flags and the environment become ``Settings`` here, at
the edge, and each command is one call into ``conveyor.services.runner`` (or the demo)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.shared.names import SERVICES

if TYPE_CHECKING:  # each command imports what it runs: `conveyor scan` starts without Celery
    from conveyor.shared.runtime import Settings


def settings_of(args: argparse.Namespace) -> Settings:
    """The environment's settings, overridden by ``--data`` and ``--redis``."""
    from conveyor.shared.runtime import Settings

    return Settings.from_environment(
        os.environ,
        data_dir=getattr(args, "data", None),
        redis_url=getattr(args, "redis", None),
    )


def manifests_of(args: argparse.Namespace) -> Path | None:
    manifests = getattr(args, "manifests", None)
    return Path(manifests) if manifests else None


def cmd_run(args: argparse.Namespace) -> int:
    from conveyor.services import runner

    settings = settings_of(args)
    source = runner.open_source(settings, manifests_of(args), args.from_cluster)
    assert source is not None  # argparse requires one of the two
    if args.once:
        code = runner.run_once(settings, source, args.output, sys.stdout, args.concurrency)
        if runner.left_behind():  # runs it stopped waiting for: their threads are not joined
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    from conveyor.services.ctl.instance import recorded  # what `conveyor get` finds

    with recorded(
        settings.data_dir,
        redis_url=settings.redis_url,
        listen=args.listen,
        manifests=manifests_of(args),
        kubeconfig=settings.kubeconfig,
    ):
        return runner.serve(
            settings, SERVICES, source, listen=args.listen, concurrency=args.concurrency
        )


def cmd_worker(args: argparse.Namespace) -> int:
    from conveyor.services import runner
    from conveyor.shared.errors import UsageError

    settings = settings_of(args)
    if settings.redis_url is None:
        raise UsageError("conveyor worker needs REDIS_URL (or --redis)")
    source = runner.open_source(settings, manifests_of(args), args.from_cluster)
    return runner.serve(
        settings, [args.service], source, listen=args.listen, concurrency=args.concurrency
    )


def cmd_scan(args: argparse.Namespace) -> int:
    """Print the tags a scan of IMAGE would see, with the same auth and TLS options."""
    from conveyor.services.registry_scanner.tags import scan
    from conveyor.shared.adapters.oci.auth import Credentials, credentials_from_dockerconfigjson
    from conveyor.shared.adapters.oci.client import RegistryOptions
    from conveyor.shared.adapters.oci.reference import parse_image
    from conveyor.shared.errors import ConveyorError

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
        tags, requests = scan(ref, options, args.exclude, f"image {args.image}")
    except (ConveyorError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for tag in tags:
        print(tag)
    print(f"{len(tags)} tags of {ref.canonical} ({requests} requests)", file=sys.stderr)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """What applying a Kustomization's revision would change (server-side dry run)."""
    from conveyor.services import runner

    settings = settings_of(args)
    source = runner.open_source(settings, manifests_of(args), False)
    assert source is not None
    return runner.diff(settings, source, args.namespace, args.name, sys.stdout, sys.stderr)


def cmd_demo(args: argparse.Namespace) -> int:
    from conveyor.services.demo import run_demo

    return run_demo(Path(args.dir), args.tags, args.kubeconfig)


def cmd_ctl(args: argparse.Namespace) -> int:
    """The Day-2 verbs: get, reconcile, suspend, resume, events, tree, preview, approvals,
    approve, reject."""
    from conveyor.services.ctl.commands import run

    return run(args)


def cmd_completion(args: argparse.Namespace) -> int:
    from conveyor.services.ctl.completion import script

    print(script(args.shell))
    return 0


def _kinds(**kwargs: Any) -> list[str]:  # completers: loaded on a TAB only
    from conveyor.services.ctl.completion import kinds

    return kinds(**kwargs)


def _names(**kwargs: Any) -> list[str]:
    from conveyor.services.ctl.completion import names

    return names(**kwargs)


KIND_HELP = (
    "gitrepository, imagerepository, imagepolicy, imageupdateautomation, kustomization or "
    "receiver (any case; plurals and short names: gitrepo, imgrepo, imgpol, iua, ks...)"
)


def _day2(sub: Any, name: str, help_: str, *, kind: str | None = "required") -> Any:
    """A Day-2 verb's parser: its KIND (``kind``: "required", "optional" or None), then the
    flags that say where conveyor is (default: the `conveyor run` of the data directory,
    else the status API on 127.0.0.1:9292)."""
    verb = sub.add_parser(name, help=help_, description=help_)
    if kind is not None:
        optional = kind == "optional"
        arg = verb.add_argument(
            "kind", nargs="?" if optional else None, default="all" if optional else None,
            metavar="KIND", help=("all (the default) or " if optional else "") + KIND_HELP,
        )
        setattr(arg, "completer", _kinds)  # noqa: B010 - argcomplete reads this attribute
    verb.add_argument("-n", "--namespace", default="flux-system", help="default flux-system")
    verb.add_argument("--data", help="data directory of the conveyor run (default: $CONVEYOR_DATA)")
    where = verb.add_mutually_exclusive_group()
    where.add_argument("--redis", help="the conveyor on this Redis (default: $REDIS_URL)")
    where.add_argument("--server", help="a conveyor status API, read-only (http://HOST:9292)")
    where.add_argument(
        "--from-cluster", action="store_true",
        help="the objects live in the cluster (KUBECONFIG): read and change them there",
    )
    verb.set_defaults(func=cmd_ctl)
    return verb


def _name(verb: Any, *, nargs: str | None = None, dest: str = "name") -> None:
    arg = verb.add_argument(dest, nargs=nargs, metavar="NAME", help="the object's name")
    setattr(arg, "completer", _names)  # noqa: B010 - argcomplete reads this attribute


def _log_format(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text (the default), or JSON lines with Flux's keys (default: $CONVEYOR_LOG_FORMAT)",
    )


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
    run.add_argument(
        "--concurrency", type=int, default=4, help="runs at once per stage (also with --once)"
    )
    _log_format(run)
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="run one service against REDIS_URL")
    worker.add_argument("service", choices=SERVICES)
    _log_format(worker)
    worker.add_argument("--redis", help="Redis URL (default: $REDIS_URL)")
    worker.add_argument("--data", help="data directory (default: $CONVEYOR_DATA)")
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
    scan.add_argument(
        "--timeout", type=float, default=60.0, help="seconds the whole scan may take"
    )
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

    get = _day2(sub, "get", "show objects and their status, as `flux get`", kind="optional")
    _name(get, nargs="?")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    get.add_argument("-w", "--watch", action="store_true", help="print each change")
    get.add_argument(
        "-o", "--output", choices=("table", "wide", "json", "yaml"), default="table"
    )
    get.add_argument("--no-header", action="store_true", help="no header line")

    rec = _day2(sub, "reconcile", "reconcile an object now and wait for the outcome")
    _name(rec)
    rec.add_argument(
        "--with-source", action="store_true", help="its source first (GitRepository...)"
    )
    rec.add_argument("--timeout", default="5m", help="how long to wait (Go duration)")

    pause = _day2(sub, "suspend", "suspend the reconciliation of objects")
    _name(pause, nargs="+", dest="names")

    resume = _day2(sub, "resume", "resume suspended objects (one: and wait until Ready)")
    _name(resume, nargs="+", dest="names")
    resume.add_argument(
        "--wait", action=argparse.BooleanOptionalAction, default=None,
        help="wait until Ready (default: with one object)",
    )
    resume.add_argument("--timeout", default="5m", help="how long to wait (Go duration)")

    events = _day2(sub, "events", "events of Flux objects, oldest first", kind=None)
    events.add_argument(
        "--for", dest="for_", metavar="KIND[/NAME]", help="one object's (and its source's)"
    )
    events.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    events.add_argument("-w", "--watch", action="store_true", help="print new ones as they come")

    tree = _day2(sub, "tree", "what a Kustomization applied (its inventory)", kind=None)
    tree.add_argument("kind", choices=("kustomization", "kustomizations", "ks"))
    _name(tree)
    tree.add_argument("--compact", action="store_true", help="Flux's objects only")
    tree.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")

    preview = _day2(sub, "preview", "the commit an automation would make now, not pushed",
                    kind=None)
    preview_kind = preview.add_argument(
        "kind", metavar="KIND", help="automation (or imageupdateautomation, iua...)"
    )
    setattr(preview_kind, "completer", _kinds)  # noqa: B010 - argcomplete reads this attribute
    _name(preview)
    preview.add_argument("-o", "--output", choices=("text", "json"), default="text")

    back = _day2(sub, "rollback", "put an automation's previous image back, and hold it there "
                 "(suspended) until resumed", kind=None)
    back_kind = back.add_argument(
        "kind", metavar="KIND", help="automation (or imageupdateautomation, iua...)"
    )
    setattr(back_kind, "completer", _kinds)  # noqa: B010 - argcomplete reads this attribute
    _name(back)
    back_what = back.add_mutually_exclusive_group()
    back_what.add_argument("--to", metavar="TAG", help="this tag, for each image its last "
                           "commit changed (default: the values from before its last commit)")
    back_what.add_argument("--clear", action="store_true", help="no rollback: forget the tags "
                           "marked failed for its policies, which may choose them again")

    trace = _day2(sub, "trace", "the journey of one image: scanned, chosen, committed, fetched, "
                  "applied, with the time of each hop", kind=None)
    trace.add_argument("image", metavar="IMAGE:TAG", help="an image and tag, or a trace id")
    trace.add_argument("-o", "--output", choices=("text", "json"), default="text")

    pending = _day2(sub, "approvals", "the changes that wait for approval", kind=None)
    pending.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    pending.add_argument("--all", action="store_true", help="also those closed lately")
    pending.add_argument("-o", "--output", choices=("table", "json"), default="table")
    for verb, help_ in (("approve", "approve the change an automation waits to commit"),
                        ("reject", "reject the change an automation waits to commit")):
        vote = _day2(sub, verb, help_, kind=None)
        vote_kind = vote.add_argument("kind", metavar="KIND", help="automation (or iua...)")
        setattr(vote_kind, "completer", _kinds)  # noqa: B010 - argcomplete reads this attribute
        _name(vote)
        vote.add_argument("--id", help="the change's id: refused if another one waits now")
        vote.add_argument("--as", dest="as_", metavar="NAME", help="the approver (default: you)")

    completion = sub.add_parser(
        "completion", help="print the shell completion script: source <(conveyor completion bash)"
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    completion.set_defaults(func=cmd_completion)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (then exits)
        from conveyor.services.ctl.completion import autocomplete

        autocomplete(top)
    args = top.parse_args(argv)
    if getattr(args, "exclude", False) is None:
        args.exclude = [r"^.*\.sig$"]
    log_format = getattr(args, "log_format", None) or os.environ.get("CONVEYOR_LOG_FORMAT")
    if log_format:  # `conveyor run`'s worker processes log alike
        os.environ["CONVEYOR_LOG_FORMAT"] = log_format
    from conveyor.shared import logs

    logs.configure(
        os.environ.get("CONVEYOR_LOG_LEVEL", "WARNING"),
        "json" if log_format == "json" else "text",
        service=getattr(args, "service", None) or args.command,
    )
    from conveyor.shared.errors import ConveyorError, UsageError

    try:
        result: int = args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConveyorError as exc:  # e.g. a Redis that does not answer
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
