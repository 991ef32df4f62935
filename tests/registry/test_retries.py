"""Retries, rate limits and Link pagination, against :class:`LoopbackServer`.

The LoopbackServer here is a test double: the real Distribution registry cannot be made to
answer 500 then 200, or 429 with Retry-After, and Debian's 2.8 ignores ``n=`` so it never sends
a ``Link`` header. Everything else runs against the real registry in the other modules.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time

import pytest

from conveyor.shared.adapters.oci.client import (
    RegistryClient,
    RegistryOptions,
    RetryPolicy,
    parse_next_link,
    parse_retry_after,
)
from conveyor.shared.adapters.oci.reference import ImageRef
from conveyor.shared.errors import PermanentError, TransientError
from tests.fixtures.loopback import LoopbackServer, Reply, Seen

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05, max_total_sleep=5.0)
INSECURE = RegistryOptions(insecure=True, timeout=5.0)


def tags_reply(tags: list[str], headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps({"name": "team/app", "tags": tags}).encode()
    return 200, {"Content-Type": "application/json", **(headers or {})}, body


class Script:
    """Replies in order; the last one repeats."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)

    def __call__(self, seen: Seen) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client_for(
    server: LoopbackServer,
    sleeps: list[float],
    options: RegistryOptions = INSECURE,
    retry: RetryPolicy = FAST,
) -> RegistryClient:
    return RegistryClient(
        ImageRef(server.host, "team/app"), options, retry=retry, sleep=sleeps.append
    )


def test_500_then_200_is_retried(sleeps: list[float]) -> None:
    script = Script((500, {}, b"oops"), (502, {}, b""), tags_reply(["v1", "v2"]))
    with LoopbackServer(script) as server, client_for(server, sleeps) as client:
        assert client.list_tags() == ["v1", "v2"]
        # insecure over plain HTTP: one failed https attempt, then three on http
        assert client.requests_made == 4
        assert len(server.paths("/v2/team/app/tags/list")) == 3
    assert len(sleeps) == 2
    assert 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02  # backoff with jitter


def test_5xx_forever_gives_up_with_transient_error(sleeps: list[float]) -> None:
    with (
        LoopbackServer(Script((503, {}, b""))) as server,
        client_for(server, sleeps) as client,
        pytest.raises(TransientError) as info,
    ):
        client.list_tags()
        assert len(server.paths("/v2/")) == FAST.attempts
    assert "after 4 attempt(s): HTTP 503" in str(info.value)
    assert server.host in str(info.value) and "team/app" in str(info.value)
    assert len(sleeps) == FAST.attempts - 1
    assert all(s <= FAST.cap for s in sleeps)


def test_429_honours_retry_after_seconds(sleeps: list[float]) -> None:
    script = Script((429, {"Retry-After": "2"}, b""), tags_reply(["a"]))
    with LoopbackServer(script) as server, client_for(server, sleeps) as client:
        assert client.list_tags() == ["a"]
    assert sleeps == [2.0]


def test_429_honours_retry_after_http_date(sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    script = Script((429, {"Retry-After": when}, b""), tags_reply(["a"]))
    with LoopbackServer(script) as server, client_for(server, sleeps) as client:
        assert client.list_tags() == ["a"]
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 3.0


def test_429_beyond_the_budget_fails_at_once_as_rate_limited(sleeps: list[float]) -> None:
    script = Script((429, {"Retry-After": "3600"}, b""))
    with (
        LoopbackServer(script) as server,
        client_for(server, sleeps) as client,
        pytest.raises(TransientError) as info,
    ):
        client.list_tags()
        assert len(server.paths("/v2/")) == 1
    assert sleeps == []
    assert info.value.reason == "RateLimited"
    assert "retry after 3600s" in str(info.value)


def test_429_without_retry_after_backs_off(sleeps: list[float]) -> None:
    with (
        LoopbackServer(Script((429, {}, b""))) as server,
        client_for(server, sleeps) as client,
        pytest.raises(TransientError) as info,
    ):
        client.list_tags()
    assert info.value.reason == "RateLimited"
    assert len(sleeps) == FAST.attempts - 1


def test_total_sleep_is_capped(sleeps: list[float]) -> None:
    policy = RetryPolicy(attempts=10, base=1.0, cap=1.0, max_total_sleep=2.5)
    with (
        LoopbackServer(Script((500, {}, b""))) as server,
        client_for(server, sleeps, retry=policy) as client,
        pytest.raises(TransientError),
    ):
        client.list_tags()
    assert sum(sleeps) <= 2.5
    assert len(server.paths("/v2/")) < 10


def test_timeout_is_transient(sleeps: list[float]) -> None:
    def slow(seen: Seen) -> Reply:
        time.sleep(0.5)
        return tags_reply([])

    options = RegistryOptions(insecure=True, timeout=0.1)
    policy = RetryPolicy(attempts=2, base=0.01)
    with (
        LoopbackServer(slow) as server,
        client_for(server, sleeps, options, policy) as client,
        pytest.raises(TransientError) as info,
    ):
        client.list_tags()
    assert "Timeout" in str(info.value)
    assert isinstance(info.value.__cause__, Exception)


def test_connection_refused_is_transient(sleeps: list[float]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    ref = ImageRef(f"127.0.0.1:{port}", "team/app")
    with (
        RegistryClient(ref, INSECURE, retry=FAST, sleep=sleeps.append) as client,
        pytest.raises(TransientError) as info,
    ):
        client.list_tags()
    assert "ConnectError" in str(info.value)
    assert len(sleeps) == FAST.attempts - 1


# -- Link pagination ------------------------------------------------------------------------


def paginating(tags: list[str], absolute: bool = False) -> LoopbackServer:
    """Serve ``tags`` in pages of ``n`` with Distribution's ``Link`` header."""
    server: LoopbackServer

    def handle(seen: Seen) -> Reply:
        n = int(seen.query.get("n", ["1000"])[0])
        last = seen.query.get("last", [None])[0]
        start = tags.index(last) + 1 if last else 0
        page = tags[start : start + n]
        headers = {}
        if start + n < len(tags):
            target = f"/v2/team/app/tags/list?last={page[-1]}&n={n}"
            if absolute:
                target = server.url + target
            headers["Link"] = f'<{target}>; rel="next"'
        return tags_reply(page, headers)

    server = LoopbackServer(handle)
    return server


@pytest.mark.parametrize("absolute", [False, True], ids=["relative-link", "absolute-link"])
def test_link_pagination_to_the_end(sleeps: list[float], absolute: bool) -> None:
    tags = [f"v{i:04d}" for i in range(250)]
    options = RegistryOptions(insecure=True, page_size=100)
    with paginating(tags, absolute) as server, client_for(server, sleeps, options) as client:
        assert client.list_tags() == tags
        pages = server.requests  # the failed https probe never became an HTTP request
        assert [r.query.get("last", [""])[0] for r in pages] == ["", "v0099", "v0199"]
        assert all(r.query["n"] == ["100"] for r in pages)
        assert client.requests_made == 1 + 3  # failed https probe + three pages


def test_page_size_none_sends_no_n_and_follows_the_registrys_links(sleeps: list[float]) -> None:
    tags = [f"v{i:04d}" for i in range(2500)]  # the fake's own page size is 1000
    options = RegistryOptions(insecure=True, page_size=None)
    with paginating(tags) as server, client_for(server, sleeps, options) as client:
        assert client.list_tags() == tags
        assert "n" not in server.requests[0].query
        assert len(server.requests) == 3


def test_pagination_loop_is_detected(sleeps: list[float]) -> None:
    def handle(seen: Seen) -> Reply:
        return tags_reply(["a"], {"Link": '</v2/team/app/tags/list?last=a&n=1>; rel="next"'})

    with (
        LoopbackServer(handle) as server,
        client_for(server, sleeps) as client,
        pytest.raises(TransientError) as info,
    ):
        client.list_tags()
    assert "loops" in str(info.value)


def test_invalid_tag_list_is_transient(sleeps: list[float]) -> None:
    bad = (200, {"Content-Type": "application/json"}, b"<html>proxy error</html>")
    with (
        LoopbackServer(Script(bad)) as server,
        client_for(server, sleeps) as client,
        pytest.raises(TransientError, match="invalid tag list"),
    ):
        client.list_tags()


def test_null_tags_is_an_empty_list(sleeps: list[float]) -> None:
    reply: Reply = (200, {}, json.dumps({"name": "team/app", "tags": None}).encode())
    with LoopbackServer(Script(reply)) as server, client_for(server, sleeps) as client:
        assert client.list_tags() == []


def test_other_4xx_is_permanent(sleeps: list[float]) -> None:
    body = json.dumps({"errors": [{"code": "NAME_INVALID", "message": "invalid name"}]})
    with (
        LoopbackServer(Script((400, {}, body.encode()))) as server,
        client_for(server, sleeps) as client,
        pytest.raises(PermanentError) as info,
    ):
        client.list_tags()
    assert "HTTP 400" in str(info.value) and "NAME_INVALID invalid name" in str(info.value)
    assert sleeps == []


# -- header parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            ['</v2/a/tags/list?last=x&n=2>; rel="next"'],
            "/v2/a/tags/list?last=x&n=2",
            id="distribution",
        ),
        pytest.param(
            ["<https://h/v2/a/tags/list?n=1>;rel=next"],
            "https://h/v2/a/tags/list?n=1",
            id="unquoted-rel",
        ),
        pytest.param(
            ['<https://h/p1>; rel="prev", <https://h/p3>; rel="next"'],
            "https://h/p3",
            id="several-links",
        ),
        pytest.param(
            ['<https://h/p1>; rel="prev"', '<https://h/p3>; rel="next"'],
            "https://h/p3",
            id="several-headers",
        ),
        pytest.param(['</x>; title="a"; rel="first next"'], "/x", id="rel-list"),
        pytest.param(['</x>; rel="prev"'], None, id="no-next"),
        pytest.param([], None, id="none"),
    ],
)
def test_parse_next_link(values: list[str], expected: str | None) -> None:
    assert parse_next_link(values) == expected


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after(None) is None


def test_tags_outside_the_oci_grammar_are_never_candidates(sleeps: list[float]) -> None:
    """A registry (here a scripted one: Distribution refuses such tags on push) that lists a
    tag with a newline, a space or a YAML indicator: only grammatical tags come out."""
    hostile = [
        "v1\n        securityContext: {privileged: true}",
        "v2 # comment",
        "-v3",
        ".v4",
        "v5:x",
        "x" * 129,
        "",
    ]
    script = Script(tags_reply(["v1", *hostile, "1.0.0", "_private", "x" * 128]))
    with LoopbackServer(script) as server, client_for(server, sleeps) as client:
        assert client.list_tags() == ["v1", "1.0.0", "_private", "x" * 128]
