"""kustomize's build of a *plain* kustomization, in this process: no ``kubectl`` start (about
90 ms on this machine) for the layout most apps have, a list of YAML files.

Plain means: the kustomization (Flux's overlay laid over it) has only ``apiVersion``, ``kind``,
``resources`` and ``namespace`` (Flux's ``targetNamespace``), each resource a file inside the
kustomization's directory, holding objects with ``apiVersion``, ``kind`` and ``metadata.name``,
no two with one id, and with ``namespace`` only objects of the ``NAMESPACED`` kinds. For that,
kustomize v5 reads the objects, sets ``metadata.namespace``, sorts them in its legacy order
(``SortOrderTransformer``: kinds of ``ORDER_FIRST`` first, of ``ORDER_LAST`` last, then by
group/version/kind, namespace and name), and writes them through JSON. What this module is not
certain to read as kustomize reads it is not plain, and goes to ``kubectl kustomize``: YAML
anchors, aliases, tags and merge keys; scalars YAML 1.1 and 1.2 read differently (see
``_Loader``); duplicate keys (an error to kustomize); ``List`` kinds (expanded by kustomize);
kustomize's own annotations. ``tests/applier/test_plain.py`` compares both builds.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, ClassVar

import yaml

ORDER_FIRST = (
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
    "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
    "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
)  # fmt: skip
ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_RANK = {
    **{kind: i - len(ORDER_FIRST) for i, kind in enumerate(ORDER_FIRST)},
    **{kind: 1 + i for i, kind in enumerate(ORDER_LAST)},
}

_PLAIN_KEYS = frozenset({"apiVersion", "kind", "resources", "namespace"})
# The kinds whose namespace is all that kustomize's namespace transformer sets (no subjects,
# webhook services or cluster scope to consider), by API group.
NAMESPACED = frozenset({
    ("", "ConfigMap"), ("", "Secret"), ("", "Service"), ("", "ServiceAccount"),
    ("", "PersistentVolumeClaim"), ("apps", "Deployment"), ("apps", "StatefulSet"),
    ("apps", "DaemonSet"), ("apps", "ReplicaSet"), ("batch", "Job"), ("batch", "CronJob"),
    ("networking.k8s.io", "Ingress"), ("networking.k8s.io", "NetworkPolicy"),
    ("autoscaling", "HorizontalPodAutoscaler"), ("policy", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "Role"),
})  # fmt: skip
MAX_PLAIN_BYTES = 1024 * 1024  # a larger source goes to kubectl, which streams it
# What kustomize treats its own way, or this module does not read: anchors, aliases, tags,
# merge keys, kustomize's annotations. A conservative net: a false alarm costs a kubectl start.
_NOT_PLAIN = re.compile(
    r"(?:^|[\s:\-\[{,])[&*!]\S|<<|config\.kubernetes\.io|kustomize\.config\.k8s\.io"
)
_INT64 = 2**63


class _NotPlain(Exception):
    pass


try:
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc]
    """PyYAML's safe loader, reading plain scalars as kustomize does, or not at all.

    kustomize reads YAML 1.2 (yaml.v3: ``yes`` is a string, ``0o17`` and ``1e3`` numbers, no
    sexagesimals) and writes what it read back through JSON (a date becomes an RFC 3339
    string, ``2.0`` becomes ``2``). The forms both YAML versions read alike are resolved here:
    YAML 1.2's booleans and nulls, decimal integers, decimal fractions. A plain scalar that
    either version might read as a number, date or anything but a string otherwise is
    ``unsure``: not plain. Every other plain scalar is a string to both. A mapping with a key
    twice is refused (an error to kustomize)."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {}


_UNSURE = "tag:conveyor.dev,2026:unsure"
for _tag, _pattern in (
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE"),
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|"),
    ("tag:yaml.org,2002:int", r"[-+]?(?:0|[1-9][0-9]*)"),
    ("tag:yaml.org,2002:float", r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+"),
    # what else YAML 1.1 (PyYAML) or 1.2 (yaml.v3) reads as a number, a date or a special
    (_UNSURE, r"(?=[^0-9]*[0-9])[-+]?[0-9_]*\.?[0-9_]*(?:[eE][-+]?[0-9_]+)?"  # decimal forms
     r"|[-+]?0[xXoObB][0-9a-fA-F_]+"  # hexadecimal, octal, binary
     r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"  # sexagesimal (YAML 1.1)
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|="
     r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt \t].*)?"),  # dates and times
):
    _Loader.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$"), None)


def _unsure(loader: Any, node: yaml.Node) -> Any:
    raise _NotPlain


def _mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = dict(loader.construct_mapping(node, deep=True))
    if len(mapping) != len(node.value) or not all(isinstance(k, str) for k in mapping):
        raise _NotPlain  # a key twice, or one JSON would turn into a string
    return mapping


_Loader.add_constructor(_UNSURE, _unsure)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _as_json(value: Any) -> Any:
    """``value`` as kustomize's JSON pass leaves it: an integral float is an integer. A number
    JSON would write in exponent form (which PyYAML reads back as a string) is not plain."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, float):
        if value != 0 and not 1e-6 <= abs(value) < 1e21:
            raise _NotPlain
        return int(value) if value.is_integer() else value
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        raise _NotPlain
    return value


def _gvk(obj: dict[str, Any]) -> tuple[str, str, str]:
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    return group, version, str(obj["kind"])


def _gvk_string(gvk: tuple[str, str, str]) -> str:
    group, version, kind = gvk
    return "_".join((group or "~G", version or "~V", kind or "~K"))


def _id_string(obj: dict[str, Any], unset: str = "~X") -> str:
    """kustomize's legacy sort string of an object's id; with ``unset="default"``, an id
    that, like kustomize's, does not tell an unset namespace from ``default``."""
    group, version, kind = _gvk(obj)
    meta = obj["metadata"]
    gvk = ".".join((kind or "[noKind]", version or "[noVer]", group or "[noGrp]"))
    return "|".join((gvk, meta.get("namespace") or unset, meta.get("name") or "~N"))


def _identity(obj: dict[str, Any]) -> str:
    """What kustomize tells objects apart by: an unset namespace is ``default``, and only the
    ``NAMESPACED`` kinds are taken to have one (for the others, kustomize may know them to be
    cluster-scoped and ignore it: two of one name are not plain)."""
    group, _, kind = _gvk(obj)
    return _id_string(obj, "default") if (group, kind) in NAMESPACED else _id_string(
        {**obj, "metadata": {"name": obj["metadata"]["name"]}}
    )


def _legacy_order(a: dict[str, Any], b: dict[str, Any]) -> int:
    """kustomize's legacy comparison of two objects (-1: ``a`` first)."""
    ga, gb = _gvk(a), _gvk(b)
    if ga != gb:
        ra, rb = _RANK.get(ga[2], 0), _RANK.get(gb[2], 0)
        if ra != rb:
            return -1 if ra < rb else 1
        sa, sb = _gvk_string(ga), _gvk_string(gb)
        if ga[2] == gb[2] == "Namespace" and "" in (ga[0], gb[0]):
            return -1 if sa > sb else 1
        return -1 if sa < sb else 1
    ia, ib = _id_string(a), _id_string(b)
    return (ia > ib) - (ia < ib)


def _objects(path: Path) -> list[dict[str, Any]] | None:
    try:
        if path.stat().st_size > MAX_PLAIN_BYTES:
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if _NOT_PLAIN.search(text):
        return None
    try:
        docs = [_as_json(d) for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except (yaml.YAMLError, _NotPlain, TypeError, ValueError, RecursionError):
        return None
    for doc in docs:
        if not isinstance(doc, dict):
            return None
        meta = doc.get("metadata")
        kind, api = doc.get("kind"), doc.get("apiVersion")
        if not (isinstance(kind, str) and kind and isinstance(api, str) and api):
            return None
        if kind.endswith("List") or not isinstance(meta, dict):
            return None
        if not isinstance(meta.get("name"), str) or not meta["name"]:
            return None
        if not isinstance(meta.get("namespace", ""), str):
            return None
    return docs if docs else None


def build_plain(kustomization: dict[str, Any], directory: Path) -> list[dict[str, Any]] | None:
    """What ``kubectl kustomize directory`` gives for ``kustomization`` (its file's content),
    or None when it is not plain (see the module's docstring)."""
    if not set(kustomization) <= _PLAIN_KEYS:
        return None
    if kustomization.get("apiVersion", "kustomize.config.k8s.io/v1beta1") != (
        "kustomize.config.k8s.io/v1beta1"
    ) or kustomization.get("kind", "Kustomization") != "Kustomization":
        return None
    resources = kustomization.get("resources")
    if not isinstance(resources, list) or not resources:
        return None
    base = directory.resolve()
    out: list[dict[str, Any]] = []
    files: set[Path] = set()
    for entry in resources:
        if not isinstance(entry, str) or "://" in entry or entry.startswith("/"):
            return None
        path = (directory / entry).resolve()
        if base not in path.parents or not path.is_file() or path in files:
            return None
        files.add(path)
        objects = _objects(path)
        if objects is None:
            return None
        out += objects
    namespace = kustomization.get("namespace")
    if namespace is not None:
        if not isinstance(namespace, str) or not namespace:
            return None
        for obj in out:
            group, _, kind = _gvk(obj)
            if (group, kind) not in NAMESPACED:
                return None
            obj["metadata"]["namespace"] = namespace
    if len({_identity(o) for o in out}) != len(out):
        return None
    return sorted(out, key=functools.cmp_to_key(_legacy_order))
