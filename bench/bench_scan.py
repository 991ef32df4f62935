"""Benchmark: list 10,000 tags with the registry scanner and with ``skopeo list-tags``.

Starts the real Distribution registry (tests/fixtures/registries.py), pushes one tiny image under
``--tags`` tags over the HTTP API, then times, in the same run and alternating, a full scan
by :class:`RegistryClient` (a new client each time, as a scan does) and by
``skopeo list-tags --tls-verify=false docker://HOST/REPO`` (or ``--cert-dir`` with ``--tls``).
Prints both times (median and best of ``--runs``), the ratio and the requests per scan.

Compared like for like, twice: both as processes (``conveyor scan`` against ``skopeo
list-tags``), and both warm (the scanner in a running worker against skopeo's time less its own
start, ``skopeo --version``); and the start-up of the ``conveyor`` command beside Python's own.

    python bench/bench_scan.py [--tags 10000] [--runs 5] [--page-size 1000] [--tls]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conveyor.services.demo.oci import push_tags, ssl_context
from conveyor.shared.adapters.oci import client as registry_module
from conveyor.shared.adapters.oci.client import RegistryClient, RegistryOptions
from conveyor.shared.adapters.oci.reference import ImageRef
from tests.fixtures.registries import Registry

REPOSITORY = "bench/app"


def scan_once(ref: ImageRef, options: RegistryOptions, cold: bool) -> tuple[float, int, int]:
    """One scan with a new client; ``cold`` also drops the process's cached TLS contexts and
    connection pools, so the scan pays for loading the CA store and opening a connection as a
    fresh process would (interpreter start not included)."""
    if cold:
        registry_module._cached_tls_context.cache_clear()
        registry_module._cached_pool.cache_clear()
    start = time.perf_counter()
    with RegistryClient(ref, options) as client:
        tags = client.list_tags()
    return time.perf_counter() - start, len(tags), client.requests_made


def skopeo_once(registry: Registry, cert_dir: str | None) -> tuple[float, int]:
    command = ["skopeo", "list-tags"]
    command += [f"--cert-dir={cert_dir}"] if cert_dir else ["--tls-verify=false"]
    command.append(f"docker://{registry.host}/{REPOSITORY}")
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, check=True, text=True)
    elapsed = time.perf_counter() - start
    return elapsed, len(json.loads(out.stdout)["Tags"])


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - start


def conveyor_scan_once(registry: Registry, cert_dir: str | None) -> tuple[float, int]:
    """``conveyor scan`` as a process: what a user running the command waits for."""
    command = ["conveyor", "scan", f"{registry.host}/{REPOSITORY}"]
    command += ["--ca-file", str(Path(cert_dir, "ca.crt"))] if cert_dir else ["--insecure"]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, check=True, text=True)
    return time.perf_counter() - start, len(out.stdout.split())


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, best {min(values) * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=1000, help="0: send no n=")
    parser.add_argument("--workers", type=int, default=2, help="connections used to push")
    parser.add_argument("--tls", action="store_true", help="serve TLS from a generated CA")
    args = parser.parse_args()
    page_size = args.page_size or None
    if shutil.which("skopeo") is None:
        print("skopeo not found: apt-get install -y skopeo", file=sys.stderr)
        return 2

    with Registry(tls=args.tls) as registry, tempfile.TemporaryDirectory() as cert_dir:
        verify = ssl_context(registry.ca_pem) if registry.ca_pem else True
        start = time.perf_counter()
        tags = [f"1.0.{i}" for i in range(args.tags)]
        push_tags(registry.url, REPOSITORY, tags, verify=verify, workers=args.workers)
        print(
            f"pushed {args.tags} tags to {registry.url}/{REPOSITORY} "
            f"in {time.perf_counter() - start:.1f}s"
        )
        if registry.ca_pem:
            Path(cert_dir, "ca.crt").write_bytes(registry.ca_pem)
            options = RegistryOptions(ca_pem=registry.ca_pem, page_size=page_size)
        else:
            options = RegistryOptions(insecure=True, page_size=page_size)
        ref = ImageRef(registry.host, REPOSITORY)

        scan_once(ref, options, cold=True)  # warm-up: imports, page cache
        skopeo_once(registry, cert_dir if args.tls else None)
        ours: list[float] = []
        ours_cold: list[float] = []
        theirs: list[float] = []
        command: list[float] = []
        skopeo_start: list[float] = []
        conveyor_start: list[float] = []
        python_start: list[float] = []
        requests = 0
        for _ in range(args.runs):  # alternate so all see the same machine load
            elapsed, count, requests = scan_once(ref, options, cold=False)
            assert count == args.tags, f"scanner saw {count} tags"
            ours.append(elapsed)
            elapsed, count, requests = scan_once(ref, options, cold=True)
            assert count == args.tags, f"scanner saw {count} tags"
            ours_cold.append(elapsed)
            elapsed, count = skopeo_once(registry, cert_dir if args.tls else None)
            assert count == args.tags, f"skopeo saw {count} tags"
            theirs.append(elapsed)
            elapsed, count = conveyor_scan_once(registry, cert_dir if args.tls else None)
            assert count == args.tags, f"conveyor scan printed {count} tags"
            command.append(elapsed)
            skopeo_start.append(timed(["skopeo", "--version"]))
            conveyor_start.append(timed(["conveyor", "--help"]))
            python_start.append(timed([sys.executable, "-c", "pass"]))

    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(
        f"transport: {'https (generated CA)' if args.tls else 'http (insecure)'}; "
        f"runs: {args.runs}; page size: {page_size or 'none (no n=)'}"
    )
    print(
        f"scanner: median {ours_median * 1000:.1f} ms, best {min(ours) * 1000:.1f} ms, "
        f"{requests} requests per scan (worker: TLS context and connection kept)"
    )
    print(
        f"scanner: median {statistics.median(ours_cold) * 1000:.1f} ms, "
        f"best {min(ours_cold) * 1000:.1f} ms (cold: CA store loaded again, new connection)"
    )
    print(
        f"skopeo:  median {theirs_median * 1000:.1f} ms, best {min(theirs) * 1000:.1f} ms "
        "(process start included)"
    )
    print(
        f"ratio scanner/skopeo: {ours_median / theirs_median:.2f} (median), "
        f"{min(ours) / min(theirs):.2f} (best), "
        f"{statistics.median(ours_cold) / theirs_median:.2f} (cold, median); target <= 1.00"
    )
    warm_skopeo = [max(t - s, 1e-6) for t, s in zip(theirs, skopeo_start, strict=True)]
    print("like for like:")
    print(
        f"  as processes: conveyor scan {ms(command)}; skopeo list-tags {ms(theirs)}; "
        f"ratio {statistics.median(command) / theirs_median:.2f}"
    )
    print(
        f"  warm: scanner in a worker {ms(ours)}; skopeo less its start-up {ms(warm_skopeo)}; "
        f"ratio {ours_median / statistics.median(warm_skopeo):.2f}"
    )
    print(
        f"  start-up: conveyor --help {ms(conveyor_start)}; python -c pass {ms(python_start)}; "
        f"skopeo --version {ms(skopeo_start)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
