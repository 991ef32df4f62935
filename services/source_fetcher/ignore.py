"""What a GitRepository's artifact leaves out: source-controller's ``.sourceignore`` semantics.

Flux (``fluxcd/pkg/sourceignore`` and the storage's ``SourceIgnoreFilter``) excludes, from the
directory it archives:

- always the VCS files: ``.git/``, ``.gitignore``, ``.gitmodules``, ``.gitattributes``;
- the patterns of every ``.sourceignore`` file in the tree (each relative to its own
  directory; the root's first, then each directory's in name order, depth first, never inside
  a directory named ``.git``), then those of ``spec.ignore`` (relative to the root);
- and only when those two give no pattern at all, the default list (images and archives, CI
  files, ``**/.goreleaser.yml``, ``**/.sops.yaml``, ``**/.flux.yaml``).

A path is excluded when the last pattern that matches it, or any directory above it, excludes
it (``!`` patterns re-include); the archive walks every directory, an excluded one included, so
a file re-included under an excluded directory is archived. Each pattern is the gitignore
format, translated by ``pathspec`` and matched on RE2, the patterns of one directory in one
pass (a hostile pattern cannot stall the fetcher); the built-in patterns alone (what a
repository without ``.sourceignore`` or ``spec.ignore`` has) are ours, not hostile, and are
matched on Python's ``re``, so that a fetcher whose sources add none never loads RE2; where
go-git's matcher, which Flux uses, departs from Git's documented format (``**`` as the last or
only part, ``a**b``, ``[!x]``), this follows the documented format.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conveyor.shared.errors import PermanentError

IGNORE_FILE = ".sourceignore"
# fluxcd/pkg/sourceignore: ExcludeVCS, then ExcludeExt, ExcludeCI, ExcludeExtra
EXCLUDE_VCS = (".git/", ".gitignore", ".gitmodules", ".gitattributes")
EXCLUDE_DEFAULT = (
    *("*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip"),
    *(".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml"),
    *("cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml"),
    *("**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml"),
)

MAX_IGNORE_FILE = 1 << 20  # characters of one .sourceignore; a longer one is refused
MAX_PATTERNS = 10_000  # patterns over every .sourceignore and spec.ignore

# The built-in patterns as pathspec translates them (tests/git/test_ignore_engines.py checks
# that it still does): a fetcher whose sources add no pattern never imports pathspec, which
# loads RE2 as its backend whenever it is imported.
_BUILT_IN = {
    ".git/": r"^(?:.+/)?\.git/",
    ".gitignore": r"^(?:.+/)?\.gitignore(?:/|$)",
    ".gitmodules": r"^(?:.+/)?\.gitmodules(?:/|$)",
    ".gitattributes": r"^(?:.+/)?\.gitattributes(?:/|$)",
    "*.jpg": r"^(?:.+/)?[^/]*\.jpg(?:/|$)",
    "*.jpeg": r"^(?:.+/)?[^/]*\.jpeg(?:/|$)",
    "*.gif": r"^(?:.+/)?[^/]*\.gif(?:/|$)",
    "*.png": r"^(?:.+/)?[^/]*\.png(?:/|$)",
    "*.wmv": r"^(?:.+/)?[^/]*\.wmv(?:/|$)",
    "*.flv": r"^(?:.+/)?[^/]*\.flv(?:/|$)",
    "*.tar.gz": r"^(?:.+/)?[^/]*\.tar\.gz(?:/|$)",
    "*.zip": r"^(?:.+/)?[^/]*\.zip(?:/|$)",
    ".github/": r"^(?:.+/)?\.github/",
    ".circleci/": r"^(?:.+/)?\.circleci/",
    ".travis.yml": r"^(?:.+/)?\.travis\.yml(?:/|$)",
    ".gitlab-ci.yml": r"^(?:.+/)?\.gitlab\-ci\.yml(?:/|$)",
    "appveyor.yml": r"^(?:.+/)?appveyor\.yml(?:/|$)",
    ".drone.yml": r"^(?:.+/)?\.drone\.yml(?:/|$)",
    "cloudbuild.yaml": r"^(?:.+/)?cloudbuild\.yaml(?:/|$)",
    "codeship-services.yml": r"^(?:.+/)?codeship\-services\.yml(?:/|$)",
    "codeship-steps.yml": r"^(?:.+/)?codeship\-steps\.yml(?:/|$)",
    "**/.goreleaser.yml": r"^(?:.+/)?\.goreleaser\.yml(?:/|$)",
    "**/.sops.yaml": r"^(?:.+/)?\.sops\.yaml(?:/|$)",
    "**/.flux.yaml": r"^(?:.+/)?\.flux\.yaml(?:/|$)",
}


@dataclass(frozen=True)
class Rule:
    """One pattern: the directory it is relative to (path parts), whether it excludes (else
    it re-includes), and its regular expression over a path relative to that directory (a
    directory's path ending in ``/``)."""

    domain: tuple[str, ...]
    excludes: bool
    regex: str
    text: str


def parse(text: str, domain: tuple[str, ...] = ()) -> list[Rule]:
    """The rules of ``text`` (a ``.sourceignore`` or ``spec.ignore``), one a line: blank lines
    and lines starting with ``#`` are none; a line that is no pattern (``!``, ``/``) matches
    nothing, as in Git."""
    from pathspec.pattern import RegexPattern
    from pathspec.util import lookup_pattern

    gitignore = lookup_pattern("gitignore")
    rules = []
    for raw in text.split("\n"):
        line = raw.removesuffix("\r")
        if line.startswith("#") or not line.strip():
            continue
        body = line.removeprefix("!")
        if not body.endswith("\\ "):
            body = body.rstrip(" ")
        if body in ("", "/"):
            continue
        try:
            pattern = gitignore(line)
        except ValueError:
            continue
        if not isinstance(pattern, RegexPattern) or pattern.include is None or not pattern.regex:
            continue
        rules.append(Rule(domain, bool(pattern.include), str(pattern.regex.pattern), line))
    return rules


def rules_for(files: Iterable[tuple[tuple[str, ...], str]], ignore: str | None) -> list[Rule]:
    """Every rule for a tree, lowest priority first, as source-controller puts them together
    for a GitRepository with ``spec.ignore`` = ``ignore``: ``files`` are the tree's
    ``.sourceignore`` files (their directory's parts and their text) in the order it reads
    them."""
    rules: list[Rule] = []
    for domain, text in files:
        if len(text) > MAX_IGNORE_FILE:
            where = "/".join((*domain, IGNORE_FILE))
            raise PermanentError(
                f"{where} is over {MAX_IGNORE_FILE} bytes", reason="SourceIgnoreError"
            )
        rules.extend(parse(text, domain))
        _bound(rules, "/".join((*domain, IGNORE_FILE)))
    if ignore is not None:
        rules.extend(parse(ignore))
        _bound(rules, "spec.ignore")
    defaults = () if rules else EXCLUDE_DEFAULT
    built_in = [Rule((), True, _BUILT_IN[text], text) for text in (*EXCLUDE_VCS, *defaults)]
    return [*built_in, *rules]


def _bound(rules: list[Rule], where: str) -> None:
    if len(rules) > MAX_PATTERNS:
        raise PermanentError(
            f"more than {MAX_PATTERNS} ignore patterns (at {where})", reason="SourceIgnoreError"
        )


class _Domain:
    """The rules of one directory, matched in one RE2 pass (an ``RE2::Set``): which of them
    match a path. Built-in rules alone are matched on Python's ``re``: one pass over them all
    to tell whether any matches (most paths: none), then each."""

    def __init__(self, domain: tuple[str, ...], indexed: tuple[tuple[int, str], ...]) -> None:
        self.domain = domain
        self.indexes: list[int] = []
        self.set: Any = None
        self.any: re.Pattern[str] | None = None
        self.others: list[tuple[int, Any]] = []  # on Python's re
        if all(regex in _BUILT_IN.values() for _, regex in indexed):
            self.others = [(index, re.compile(regex)) for index, regex in indexed]
            self.any = re.compile("|".join(f"(?:{regex})" for _, regex in indexed))
            return
        import re2  # only for patterns of a repository's or an object's own

        self.set = re2.Set.SearchSet()
        for index, regex in indexed:
            try:
                self.set.Add(regex)
                self.indexes.append(index)
            except re2.error:  # a pattern RE2 refuses: Python's re
                self.others.append((index, re.compile(regex)))
        self.set.Compile()

    def last(self, parts: tuple[str, ...], is_dir: bool) -> int:
        """The highest index of a rule matching ``parts`` (-1: none)."""
        depth = len(self.domain)
        if len(parts) <= depth or parts[:depth] != self.domain:
            return -1
        relative = "/".join(parts[depth:]) + ("/" if is_dir else "")
        if self.any is not None and not self.any.search(relative):
            return -1
        matched = self.set.Match(relative) if self.set is not None else None
        found = [self.indexes[i] for i in matched or ()]
        found += [index for index, regex in self.others if regex.search(relative)]
        return max(found, default=-1)


@functools.lru_cache(maxsize=64)
def _domain(domain: tuple[str, ...], indexed: tuple[tuple[int, str], ...]) -> _Domain:
    """The compiled rules of one directory; the same rules (Flux's defaults, say) once."""
    return _Domain(domain, indexed)


class Matcher:
    """Whether a path is excluded, walking the tree top down: a directory's verdict (the
    highest rule matching it or a directory above it) is carried to what it holds."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        by_domain: dict[tuple[str, ...], list[tuple[int, Rule]]] = {}
        for index, rule in enumerate(rules):
            by_domain.setdefault(rule.domain, []).append((index, rule))
        self.domains = [
            _domain(domain, tuple((i, r.regex) for i, r in indexed))
            for domain, indexed in by_domain.items()
        ]
        self.last_inclusion = max((i for i, r in enumerate(rules) if not r.excludes), default=-1)

    def last_match(self, parts: tuple[str, ...], is_dir: bool, above: int) -> int:
        """The index of the last rule matching ``parts`` itself, or ``above`` (the verdict of
        its directory) when none after it does."""
        return max([above, *(d.last(parts, is_dir) for d in self.domains)])

    def excluded(self, index: int) -> bool:
        return index >= 0 and self.rules[index].excludes

    def settled(self, index: int) -> bool:
        """Whether everything below a directory of verdict ``index`` is excluded: it is, and
        no later rule re-includes anything (so the walk need not go in)."""
        return self.excluded(index) and self.last_inclusion < index
