"""Each Provider type as notification-controller v1.9.3 sends to it (``internal/notifier``),
and a Provider read with its Secrets as its ``createNotifier`` reads them.

``resolve`` (``createNotifier``, ``extractAuthFromSecret``): the address is ``spec.address``,
or the Secret's ``address`` (trimmed, at most 2048 bytes); the Secret's ``token``,
``username`` with ``password`` (both or neither, else neither is read, nor the token),
``headers`` (a YAML map, for the generic types) and deprecated ``proxy``; ``spec.username``,
``spec.channel``; the proxy is ``spec.proxy``, else the Secret's ``proxy``, else
``proxySecretRef``'s ``address`` (with its ``username``/``password``); TLS from
``certSecretRef`` (``ca.crt``, ``tls.crt``, ``tls.key``; legacy ``caFile``, ``certFile``,
``keyFile``), or, for a commit-status type without one, from the Secret's ``ca.crt``. Then
each type's constructor checks what it needs (a hook URL; a token; ``user:password``).

What each type uses of that, as Flux's notifiers do: the generic types, Slack, Rocket and MS
Teams the TLS settings and the proxy; Discord and Google Chat the proxy alone; GitHub, GitLab
and Bitbucket the TLS settings alone (their API clients take no proxy); Gitea both. The
environment's ``HTTPS_PROXY``/``NO_PROXY`` apply where no proxy is given.

``send`` posts one event (``alerts.for_alert``'s) and raises what failed: ``DeliveryFailed``
(an answer that is no success, or none), ``InvalidEndpoint``, ``ProviderError``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conveyor.services.receiver import alerts
from conveyor.services.receiver.gojson import marshal
from conveyor.shared.adapters.webhook import (
    Answer,
    DeliveryFailed,
    InvalidEndpoint,
    Transport,
    WebClient,
    shown,
)
from conveyor.shared.errors import InvalidSpec, PermanentError
from conveyor.shared.models import Provider, SecretSpec

MAX_ADDRESS = 2048
NOTIFICATION_HEADER = "gotk-component"  # the Forwarder's header: the reporting controller
GITHUB_API = "https://api.github.com/"
BITBUCKET_API = "https://api.bitbucket.org/2.0"
USER_AGENT = "conveyor"

_USES_TLS = {"generic", "generic-hmac", "slack", "rocket", "msteams", "github", "gitlab",
             "gitea", "bitbucket"}
_USES_PROXY = {"generic", "generic-hmac", "slack", "rocket", "msteams", "discord", "googlechat",
               "gitea"}


class ProviderError(PermanentError):
    """A Provider that cannot send (its constructor's checks), or an answer it cannot use."""

    reason = "ValidationFailed"


@dataclass(frozen=True)
class Target:
    """A Provider with what its Secrets hold: what ``send`` needs."""

    type: str
    name: str  # ns/name, for messages
    url: str = field(repr=False)
    token: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    channel: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    transport: Transport = field(default_factory=Transport)
    timeout: float = 15.0
    commit_status: str = ""  # the commit status id (commit-status types)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values no message may show."""
        values = [self.token, self.password, self.url, *self.headers.values()]
        if self.transport.proxy:
            values.append(self.transport.proxy)
        return tuple(v for v in values if len(v) >= 4)


SecretOf = Callable[[str], SecretSpec]  # a Secret of the Provider's namespace, by name


def _text(secret: SecretSpec, key: str) -> str | None:
    value = secret.data.get(key)
    return None if value is None else value.decode("utf-8", errors="replace")


def _headers(raw: str, owner: str) -> dict[str, str]:
    try:
        loaded = yaml.safe_load(raw) if raw.strip() else {}
    except yaml.YAMLError:
        raise InvalidSpec(f"{owner}: failed to read headers from secret") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InvalidSpec(f"{owner}: failed to read headers from secret: not a map")
    return {str(k): "" if v is None else str(v) for k, v in loaded.items()}


def _tls(secret: SecretSpec, scratch: Path | None) -> Transport:
    def pem(key: str, legacy: str) -> bytes | None:
        return secret.data.get(key, secret.data.get(legacy))

    return Transport(
        ca_pem=pem("ca.crt", "caFile"),
        cert_pem=pem("tls.crt", "certFile"),
        key_pem=pem("tls.key", "keyFile"),
        scratch=scratch,
    )


def _proxy_of(secret: SecretSpec, owner: str) -> str:
    """``ProxyURLFromSecret``: ``address`` with ``username`` (and ``password``)."""
    address = _text(secret, "address")
    if address is None:
        raise InvalidSpec(f"{owner}: the proxy secret has no 'address' key")
    if not address:
        raise InvalidSpec(f"{owner}: the proxy secret's address is empty")
    if len(address) > MAX_ADDRESS:
        raise InvalidSpec(f"{owner}: proxy URL exceeds maximum length of {MAX_ADDRESS}")
    parts = urllib.parse.urlsplit(address)
    if parts.scheme not in ("http", "https", "socks5"):
        raise InvalidSpec(
            f"{owner}: proxy URL must use one of the supported schemes (http, https, socks5)"
        )
    user, password = _text(secret, "username"), _text(secret, "password")
    if user is not None:
        auth = urllib.parse.quote(user, safe="")
        if password is not None:
            auth += ":" + urllib.parse.quote(password, safe="")
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{auth}@{host}")
    return urllib.parse.urlunsplit(parts)


def resolve(
    provider: Provider,
    secret_of: SecretOf,
    *,
    commit_status: str = "",
    scratch: Path | None = None,
) -> Target:
    """The Provider with its Secrets (module docstring); InvalidSpec, NotFound or
    ProviderError when it cannot send."""
    spec = provider.spec
    owner = f"Provider {provider.namespace}/{provider.name}"
    url = spec.address or ""
    token = password = ""
    username = spec.username or ""
    headers: dict[str, str] = {}
    proxy = spec.proxy or ""
    transport = Transport(scratch=scratch)
    secret: SecretSpec | None = None
    if spec.secret_ref is not None:
        secret = secret_of(spec.secret_ref.name)
        address = secret.data.get("address")
        if address is not None:
            if len(address) > MAX_ADDRESS:
                raise InvalidSpec(
                    f"{owner}: invalid address in secret: address exceeds maximum length of "
                    f"{MAX_ADDRESS} bytes"
                )
            url = address.decode("utf-8", errors="replace").strip()
        if _text(secret, "proxy") is not None:
            proxy = (_text(secret, "proxy") or "").strip()
        if _text(secret, "headers") is not None:
            headers = _headers(_text(secret, "headers") or "", owner)
        has_user, has_password = "username" in secret.data, "password" in secret.data
        if has_user == has_password:  # partial basic auth: Flux reads no credentials at all
            token = _text(secret, "token") or ""
            if has_user:
                username = _text(secret, "username") or ""
                password = _text(secret, "password") or ""
    if spec.proxy_secret_ref is not None:
        proxy = _proxy_of(secret_of(spec.proxy_secret_ref.name), owner)
    if spec.cert_secret_ref is not None:
        transport = _tls(secret_of(spec.cert_secret_ref.name), scratch)
    elif spec.type in alerts.COMMIT_STATUS_TYPES and secret is not None and "ca.crt" in (
        secret.data
    ):
        transport = _tls(secret, scratch)
    if spec.type not in _USES_TLS:
        transport = Transport(scratch=scratch)
    if spec.type in _USES_PROXY and proxy:
        transport = Transport(
            transport.ca_pem, transport.cert_pem, transport.key_pem, proxy, scratch
        )
    target = Target(
        type=spec.type,
        name=f"{provider.namespace}/{provider.name}",
        url=url,
        token=token,
        username=username,
        password=password,
        channel=spec.channel or "",
        headers=headers if spec.type in alerts.GENERIC_TYPES else {},
        transport=transport,
        timeout=spec.timeout,
        commit_status=commit_status,
    )
    check(target, secret)
    return target


def _hook_url(url: str, what: str) -> None:
    """``url.ParseRequestURI`` as the notifiers use it: conveyor sends to http(s) only."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderError(f"invalid {what} URL: not an absolute http(s) URL")


def parse_git_address(address: str) -> tuple[str, str]:
    """``parseGitAddress``: the host (``scheme://host``, ssh as https) and the repository's
    id (its path, without ``.git``)."""
    scp = re.fullmatch(r"(?:[^@/:]+@)?([^:/]+):(?!//)(.+)", address)
    if "://" not in address and scp is not None:
        scheme, host, path = "https", scp.group(1), scp.group(2)
    else:
        parts = urllib.parse.urlsplit(address)
        if not parts.scheme or not parts.netloc:
            raise ProviderError("failed parsing the repository address")
        scheme = "https" if parts.scheme == "ssh" else parts.scheme
        host, path = parts.netloc.rpartition("@")[2], parts.path
    return f"{scheme}://{host}", path.lstrip("/").removesuffix(".git")


def _owner_repo(address: str) -> tuple[str, str, str]:
    host, ident = parse_git_address(address)
    parts = ident.split("/")
    if len(parts) != 2 or not all(parts):
        raise ProviderError(f"invalid repository id '{ident}'")
    return host, parts[0], parts[1]


def check(target: Target, secret: SecretSpec | None) -> None:
    """What each type's constructor refuses (``NewForwarder``, ``NewSlack``, ``NewGitHub``,
    …)."""
    kind = target.type
    if kind in ("generic", "generic-hmac"):
        _hook_url(target.url, "hook")
        if kind == "generic-hmac" and not target.token:
            raise ProviderError("HMAC key is empty (the secret needs a 'token')")
    elif kind in ("slack", "discord", "rocket", "msteams", "googlechat"):
        _hook_url(target.url, {"msteams": "MS Teams webhook", "googlechat": "Google Chat hook"}
                  .get(kind, f"{kind.capitalize()} hook"))
    elif kind in ("github", "gitea", "gitlab"):
        if not (target.token or target.password):
            if kind == "github" and secret is not None and "githubAppID" in secret.data:
                raise ProviderError(
                    "GitHub App authentication (githubAppID) is not supported by conveyor: "
                    "give a token"
                )
            raise ProviderError(
                "github token or github app details must be specified"
                if kind == "github" else f"{kind} token cannot be empty"
            )
        if kind == "gitlab":
            parse_git_address(target.url)
        else:
            _owner_repo(target.url)
    elif kind == "bitbucket":
        if not target.token:
            raise ProviderError("bitbucket token cannot be empty")
        if len(target.token.split(":")) != 2:
            raise ProviderError("invalid token format, expected to be <user>:<password>")
        _owner_repo(target.url)


def default_uid(provider: Provider) -> str:
    """The Provider's uid, or, read from a manifest (no API server gave it one), a stable
    one made of its namespace and name: the commit status id's last part."""
    if provider.metadata.uid:
        return provider.metadata.uid
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"conveyor:Provider/{provider.namespace}/"
                                                f"{provider.name}"))


# --- the payloads ------------------------------------------------------------------------------


def _object_name(event: alerts.Event) -> str:
    obj = event["involvedObject"]
    return f"{str(obj.get('kind', '')).lower()}/{obj.get('name', '')}.{obj.get('namespace', '')}"


def _metadata(event: alerts.Event) -> dict[str, str]:
    found: dict[str, str] = event.get("metadata") or {}
    return found


def _error(event: alerts.Event) -> bool:
    return event.get("severity") == "error"


def _slack_fields(event: alerts.Event) -> list[dict[str, Any]]:
    return [{"title": k, "value": v, "short": False} for k, v in sorted(_metadata(event).items())]


def slack_payload(event: alerts.Event, username: str, channel: str) -> dict[str, Any]:
    """Slack's message (``SlackPayload``): one attachment, ``good``/``danger``, the metadata as
    fields (Go's map order is random; sorted here). A change awaiting approval (conveyor's
    ``AwaitingApproval``) gets Approve and Reject buttons, for a Slack app whose interactivity
    points at the receiver's ``/api/v1/approvals/slack``."""
    author = _object_name(event)
    message = str(event.get("message", ""))
    attachment = {
        "fallback": f"{author}: {message.split(chr(10))[0]}",
        "color": "danger" if _error(event) else "good",
        "author_name": author,
        "text": message,
        "mrkdwn_in": ["text"],
        "fields": _slack_fields(event),
    }
    approval = _metadata(event).get("approval")
    if event.get("reason") == "AwaitingApproval" and approval:  # conveyor's approvals
        attachment["callback_id"] = f"conveyor-approval:{approval}"
        attachment["actions"] = [  # their value is what POST /api/v1/approvals/slack reads
            {"name": "vote", "text": "Approve", "type": "button", "style": "primary",
             "value": f"approve:{approval}"},
            {"name": "vote", "text": "Reject", "type": "button", "style": "danger",
             "value": f"reject:{approval}"},
        ]
    return {
        "channel": channel,
        "username": username or str(event.get("reportingController", "")),
        "icon_url": "",
        "icon_emoji": "",
        "attachments": [attachment],
    }


def discord_payload(event: alerts.Event, username: str) -> dict[str, Any]:
    """Discord's Slack-compatible payload (no fallback, no channel)."""
    return {
        "channel": "",
        "username": username or str(event.get("reportingController", "")),
        "icon_url": "",
        "icon_emoji": "",
        "attachments": [{
            "fallback": "",
            "color": "danger" if _error(event) else "good",
            "author_name": _object_name(event),
            "text": str(event.get("message", "")),
            "mrkdwn_in": ["text"],
            "fields": _slack_fields(event),
        }],
    }


def rocket_payload(event: alerts.Event, username: str, channel: str) -> dict[str, Any]:
    """Rocket.Chat's Slack-compatible payload (its colours; no default username)."""
    return {
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": "",
        "attachments": [{
            "fallback": "",
            "color": "#FF0000" if _error(event) else "#0076D7",
            "author_name": _object_name(event),
            "text": str(event.get("message", "")),
            "mrkdwn_in": ["text"],
            "fields": _slack_fields(event),
        }],
    }


def msteams_payload(event: alerts.Event, connector: bool) -> dict[str, Any]:
    """MS Teams: an Adaptive Card 1.4 (a workflow's webhook), or the deprecated connector's
    MessageCard (a host under ``.webhook.office.com``)."""
    name = _object_name(event)
    metadata = _metadata(event)
    message = str(event.get("message", ""))
    if connector:
        return {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "themeColor": "FF0000" if _error(event) else "0076D7",
            "summary": name,
            "sections": [{
                "activityTitle": message,
                "activitySubtitle": name,
                "facts": [{"name": k, "value": v} for k, v in sorted(metadata.items())],
            }],
        }
    facts = [{"title": alerts.SUMMARY, "value": metadata[alerts.SUMMARY]}] if (
        alerts.SUMMARY in metadata
    ) else []
    facts += [{"title": k, "value": v} for k, v in sorted(metadata.items())
              if k != alerts.SUMMARY]
    text: dict[str, Any] = {"type": "TextBlock", "text": message}
    if _error(event):
        text["color"] = "attention"
    text["wrap"] = True
    body: dict[str, Any] = {"type": "Container", "items": [
        {"type": "TextBlock", "text": name, "size": "large", "weight": "bolder", "wrap": True},
        text,
        {"type": "FactSet", **({"facts": facts} if facts else {})},
    ]}
    return {
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [body],
                "msteams": {"width": "Full"},
            },
        }],
    }


def googlechat_payload(event: alerts.Event) -> dict[str, Any]:
    """Google Chat's card (``cards``): the object and controller as header, the message
    (red for an error), the metadata as key-value widgets."""
    message = str(event.get("message", ""))
    if _error(event):
        message = f'<font color="#ff0000">{message}</font>'
    sections: list[dict[str, Any]] = [{
        "header": "",
        "widgets": [{"textParagraph": {"text": message}, "keyValue": None}],
    }]
    metadata = _metadata(event)
    if metadata:
        sections.append({
            "header": "",
            "widgets": [
                {"textParagraph": None, "keyValue": {
                    "topLabel": k, "content": v, "contentMultiline": False,
                    "bottomLabel": None, "icon": None,
                }}
                for k, v in sorted(metadata.items())
            ],
        })
    return {"cards": [{
        "header": {
            "title": _object_name(event),
            "subtitle": str(event.get("reportingController", "")),
            "imageUrl": None,
            "imageStyle": None,
        },
        "sections": sections,
    }]}


# --- sending -----------------------------------------------------------------------------------


def _ok(answer: Answer, what: str) -> None:
    """Flux's default response check: 2xx, else the status and the answer's body."""
    if not 200 <= answer.status < 300:
        raise DeliveryFailed(
            f"{what}: request failed with status code {answer.status}: {shown(answer.body)}",
            answer.status,
        )


def send(target: Target, event: alerts.Event, *, instance: str = "") -> None:
    """Deliver ``event`` to ``target`` within its timeout (module docstring)."""
    deadline = time.monotonic() + target.timeout
    with WebClient(target.transport) as client:
        if target.type in alerts.COMMIT_STATUS_TYPES:
            _commit_status(client, target, event, deadline)
        else:
            _post(client, target, event, deadline)


def _post(client: WebClient, target: Target, event: alerts.Event, deadline: float) -> None:
    kind, url = target.type, target.url
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if kind in ("generic", "generic-hmac"):
        body = marshal(event)
        headers[NOTIFICATION_HEADER] = str(event.get("reportingController", ""))
        headers.update(target.headers)
        if kind == "generic-hmac":
            digest = hmac.new(target.token.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Signature"] = f"sha256={digest}"
    elif kind == "slack":
        body = marshal(slack_payload(event, target.username, target.channel))
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
    elif kind == "discord":
        parts = urllib.parse.urlsplit(url)
        if not url.endswith("/slack"):  # Discord's Slack-compatible endpoint
            url = urllib.parse.urlunsplit(
                parts._replace(path=parts.path.rstrip("/") + "/slack")
            )
        body = marshal(discord_payload(event, target.username))
    elif kind == "rocket":
        body = marshal(rocket_payload(event, target.username, target.channel))
    elif kind == "msteams":
        host = urllib.parse.urlsplit(url).hostname or ""
        body = marshal(msteams_payload(event, host.endswith(".webhook.office.com")))
    elif kind == "googlechat":
        body = marshal(googlechat_payload(event))
    else:
        raise ProviderError(f"provider {kind} not supported")
    answer = client.request("POST", url, deadline=deadline, headers=headers, body=body)
    _ok(answer, "postMessage failed")
    if kind == "slack" and url == "https://slack.com/api/chat.postMessage":
        try:
            reply = answer.json()
        except ValueError:
            raise DeliveryFailed("Slack's answer is no JSON") from None
        if not (isinstance(reply, dict) and reply.get("ok") is True):
            error = reply.get("error", "") if isinstance(reply, dict) else ""
            raise DeliveryFailed(f"Slack responded with error: {error}")


def _state(kind: str, event: alerts.Event) -> str:
    if kind == "gitea" and event.get("reason") == alerts.PROGRESSING:
        return "pending"
    severity = event.get("severity")
    states = {
        "github": ("success", "failure"), "gitlab": ("success", "failed"),
        "gitea": ("success", "failure"), "bitbucket": ("SUCCESSFUL", "FAILED"),
    }[kind]
    if severity == "info":
        return states[0]
    if severity == "error":
        return states[1]
    raise ProviderError(f"can't convert to {kind} state")


def _commit_status(
    client: WebClient, target: Target, event: alerts.Event, deadline: float
) -> None:
    """Set the commit status of the event's revision (github, gitlab, gitea, bitbucket),
    unless the latest one of that id already says the same."""
    kind = target.type
    if kind not in ("github", "gitlab", "gitea", "bitbucket"):
        raise ProviderError(f"provider {kind} not supported")
    if kind != "gitea" and event.get("reason") == alerts.PROGRESSING:
        return  # no commit status from a progressing event
    revision = alerts.revision_of(_metadata(event))
    if revision is None:
        raise ProviderError("missing revision metadata")
    try:
        sha = alerts.commit_of(revision)
    except ValueError as exc:
        raise ProviderError(str(exc)) from None
    state = _state(kind, event)
    name, description = alerts.name_and_description(event)
    ident = target.commit_status
    token = target.token or target.password
    setter = {"github": _github, "gitlab": _gitlab, "gitea": _gitea, "bitbucket": _bitbucket}
    setter[kind](client, target, token, sha, state, name, description, ident, deadline)


def _json_list(answer: Answer, what: str) -> list[dict[str, Any]]:
    _ok(answer, what)
    try:
        found = answer.json()
    except ValueError:
        raise DeliveryFailed(f"{what}: the answer is no JSON") from None
    if not isinstance(found, list):
        raise DeliveryFailed(f"{what}: the answer is no list")
    return [s for s in found if isinstance(s, dict)]


def _q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _github(client: WebClient, target: Target, token: str, sha: str, state: str, name: str,
            description: str, ident: str, deadline: float) -> None:
    host, owner, repo = _owner_repo(target.url)
    netloc = urllib.parse.urlsplit(host).netloc
    if netloc == "github.com":
        base = GITHUB_API
    elif netloc.startswith("api.") or ".api." in netloc:
        base = host + "/"
    else:
        base = host + "/api/v3/"  # GitHub Enterprise (go-github's WithEnterpriseURLs)
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github.v3+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": USER_AGENT,
    }
    repo_path = f"{base}repos/{_q(owner)}/{_q(repo)}"
    listed = client.request(
        "GET", f"{repo_path}/commits/{sha}/statuses?per_page=50", deadline=deadline,
        headers=headers,
    )
    statuses = _json_list(listed, "could not list commit statuses")
    for status in statuses:
        if not all(isinstance(status.get(k), str) for k in ("context", "state", "description")):
            continue
        if status["context"] == ident:
            if status["state"] == state and status["description"] == description:
                return  # the latest status of this id says the same
            break
    body = marshal({"state": state, "description": description, "context": ident})
    answer = client.request(
        "POST", f"{repo_path}/statuses/{sha}", deadline=deadline,
        headers={**headers, "Content-Type": "application/json"}, body=body,
    )
    _ok(answer, "could not create commit status")


def _gitlab(client: WebClient, target: Target, token: str, sha: str, state: str, name: str,
            description: str, ident: str, deadline: float) -> None:
    host, project = parse_git_address(target.url)
    base = f"{host}/api/v4/projects/{_q(project)}"
    headers = {"PRIVATE-TOKEN": token, "Accept": "application/json", "User-Agent": USER_AGENT}
    listed = client.request(
        "GET", f"{base}/repository/commits/{sha}/statuses?name={_q(ident)}",
        deadline=deadline, headers=headers,
    )
    for status in _json_list(listed, "unable to list commit status"):
        if (
            status.get("sha") == sha and status.get("status") == state
            and status.get("description") == description and status.get("name") == ident
        ):
            return
    body = marshal({"state": state, "name": ident, "description": description})
    answer = client.request(
        "POST", f"{base}/statuses/{sha}", deadline=deadline,
        headers={**headers, "Content-Type": "application/json"}, body=body,
    )
    _ok(answer, "could not set commit status")


def _gitea(client: WebClient, target: Target, token: str, sha: str, state: str, name: str,
           description: str, ident: str, deadline: float) -> None:
    host, owner, repo = _owner_repo(target.url)
    base = f"{host}/api/v1/repos/{_q(owner)}/{_q(repo)}"
    headers = {"Authorization": f"token {token}", "Accept": "application/json",
               "User-Agent": USER_AGENT}
    listed = client.request(
        "GET", f"{base}/commits/{sha}/statuses?page=1&limit=50", deadline=deadline,
        headers=headers,
    )
    for status in _json_list(listed, "could not list commit statuses"):
        if not all(status.get(k) for k in ("context", "status", "description")):
            continue
        if status["context"] == ident:
            if status["status"] == state and status["description"] == description:
                return
            break
    body = marshal(
        {"state": state, "target_url": "", "description": description, "context": ident}
    )
    answer = client.request(
        "POST", f"{base}/statuses/{sha}", deadline=deadline,
        headers={**headers, "Content-Type": "application/json"}, body=body,
    )
    _ok(answer, "could not create commit status")


def _bitbucket(client: WebClient, target: Target, token: str, sha: str, state: str, name: str,
               description: str, ident: str, deadline: float) -> None:
    _, owner, repo = _owner_repo(target.url)
    user, _, password = token.partition(":")
    key = hashlib.sha1(ident.encode()).hexdigest()  # Bitbucket's keys: at most 40 characters
    base = f"{BITBUCKET_API}/repositories/{_q(owner)}/{_q(repo)}/commit/{sha}/statuses/build"
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}", "User-Agent": USER_AGENT}
    existing = client.request("GET", f"{base}/{key}", deadline=deadline, headers=headers)
    if existing.status != 404:
        _ok(existing, "could not get commit status")
        try:
            found = existing.json()
        except ValueError:
            found = None
        if isinstance(found, dict) and found.get("state") == state and (
            found.get("description") == description
        ):
            return
    body = marshal({
        "key": key, "url": "https://bitbucket.org", "state": state, "name": name,
        "description": description,
    })
    answer = client.request(
        "POST", base, deadline=deadline,
        headers={**headers, "Content-Type": "application/json"}, body=body,
    )
    _ok(answer, "could not create commit status")


__all__ = ["InvalidEndpoint", "ProviderError", "Target", "resolve", "send"]
