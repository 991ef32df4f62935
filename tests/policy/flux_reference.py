"""image-reflector-controller v1.2's ImagePolicy code, transcribed loop for loop: the
executable reference that tests compare ``select_latest`` against.

Nothing here is fast or clever, on purpose. The steps are Flux's: the tag database holds a
scan's tags sorted descending bytewise (``sortTagsAndGetLatestTags`` in
``internal/controller/imagerepository_controller.go``); ``applyPolicy`` fills the filter's
``map[value]tag`` in that order and hands ``Latest`` the map's keys; ``SemVer.Latest``,
``Alphabetical.Latest`` and ``Numerical.Latest`` (``internal/policy``) are the loops below.
Go iterates a map in random order; here its keys are taken in descending order, the one
order conveyor documents for that case. Parsing (``version.ParseVersion``,
``strconv.ParseFloat``, Go's regexp) is conveyor's, tested against Go's own tables apart.
Errors are ``ValueError`` with Flux's messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from conveyor.services.policy_evaluator.policy import go_parse_float
from conveyor.shared.goregexp import TagFilter
from conveyor.shared.semver import SemverError, Version, parse_constraint, parse_tag

Latest = Callable[[list[str]], str]


def _semver(rng: str) -> Latest:
    constraint = parse_constraint(rng)

    def latest(versions: list[str]) -> str:
        if not versions:
            raise ValueError("version list argument cannot be empty")
        latest_version: Version | None = None
        for tag in versions:
            try:
                v = parse_tag(tag)
            except SemverError:
                continue
            if constraint.check(v) and (latest_version is None or v.key > latest_version.key):
                latest_version = v
        if latest_version is None:
            raise ValueError("unable to determine latest version from provided list")
        return latest_version.original

    return latest


def _alphabetical(order: str) -> Latest:
    def latest(versions: list[str]) -> str:
        if not versions:
            raise ValueError("version list argument cannot be empty")
        return sorted(versions, reverse=order != "DESC")[0]

    return latest


def _numerical(order: str) -> Latest:
    def latest(versions: list[str]) -> str:
        if not versions:
            raise ValueError("version list argument cannot be empty")
        result, previous = "", 0.0
        for i, version in enumerate(versions):
            current = go_parse_float(version)
            if current is None:
                raise ValueError(f"failed to parse invalid numeric value '{version}'")
            if i > 0 and (
                (order == "ASC" and current < previous) or (order == "DESC" and current > previous)
            ):
                continue
            result, previous = version, current
        return result

    return latest


def _policer(policy: Mapping[str, Any]) -> Latest:
    """``PolicerFromSpec`` (orders upper-cased, "" is ASC)."""
    if policy.get("semver") is not None:
        return _semver(policy["semver"]["range"])
    if policy.get("alphabetical") is not None:
        return _alphabetical((policy["alphabetical"].get("order") or "asc").upper())
    if policy.get("numerical") is not None:
        return _numerical((policy["numerical"].get("order") or "asc").upper())
    raise ValueError("given ImagePolicyChoice object is invalid")


def flux_select(
    tags: list[str], policy: Mapping[str, Any], filter_tags: Mapping[str, str] | None = None
) -> str:
    """The tag image-reflector-controller v1.2 resolves ``latestRef.tag`` to."""
    latest = _policer(policy)
    database = sorted(tags, reverse=True)  # Go's strings.Compare is bytewise on UTF-8
    if not database:
        raise ValueError("no tags in database")
    if filter_tags is None:
        return latest(database)
    regexp = TagFilter(filter_tags.get("pattern") or "", filter_tags.get("extract") or "")
    values, originals = regexp.columns_re2(database)
    filtered: dict[str, str] = {}
    for value, tag in zip(values, originals, strict=True):
        filtered[value] = tag
    return filtered[latest(sorted(filtered, reverse=True))]
