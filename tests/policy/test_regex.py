"""Go ``regexp`` semantics for filterTags: syntax, submatches, ``Expand``, the fast path.

Case ids cite their source:
``go-regexp_test:replaceTests`` -- Go ``regexp/all_test.go`` (expansion on the first match);
``go-example:<Example>`` -- Go ``regexp/example_test.go``;
``go-syntax:<rule>`` -- read off Go's ``regexp/syntax/parse.go`` / ``regexp.go``;
``flux-filter_test`` -- image-reflector-controller ``internal/policy/filter_test.go``.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.shared.goregexp import GoRegexp, GoRegexpError, TagFilter, scan_group_names

# ----------------------------------------------------------------------------- expansion

REPLACE_TESTS = [
    # (pattern, template, input, expansion of the first match)
    ("a+", "($0)", "banana", "(a)"),
    ("a+", "(${0})", "banana", "(a)"),
    ("a+", "(${0})$0", "banana", "(a)a"),
    ("hello, (.+)", "goodbye, ${1}", "hello, world", "goodbye, world"),
    ("hello, (.+)", "goodbye, $1x", "hello, world", "goodbye, "),
    ("hello, (.+)", "goodbye, ${1}x", "hello, world", "goodbye, worldx"),
    ("hello, (.+)", "<$0><$1><$2><$3>", "hello, world", "<hello, world><world><><>"),
    ("hello, (?P<noun>.+)", "goodbye, $noun!", "hello, world", "goodbye, world!"),
    ("hello, (?P<noun>.+)", "goodbye, ${noun}", "hello, world", "goodbye, world"),
    ("(?P<x>hi)|(?P<x>bye)", "$x$x$x", "hi", "hihihi"),
    ("(?P<x>hi)|(?P<x>bye)", "$x$x$x", "bye", "byebyebye"),
    ("(?P<x>hi)|(?P<x>bye)", "$xyz", "hi", ""),
    ("(?P<x>hi)|(?P<x>bye)", "${x}yz", "hi", "hiyz"),
    ("(?P<x>hi)|(?P<x>bye)", "hello $$x", "hi", "hello $x"),
    ("a+", "${oops", "aaa", "${oops"),
    ("a+", "$$", "aaa", "$"),
    ("a+", "$", "aaa", "$"),
    ("(x)?", "$1", "123", ""),
    ("(a)(b){0}(c)", ".$1|$3.", "xacxacx", ".a|c."),
    ("(a)(((b))){0}c", ".$1.", "xacxacx", ".a."),
    ("((a(b){0}){3}){5}(h)", "y caramb$2", "say aaaaaaaaaaaaaaaah", "y caramba"),
    ("((a(b){0}){3}){5}h", "y caramb$2", "say aaaaaaaaaaaaaaaah", "y caramba"),
]


@pytest.mark.parametrize(
    ("pattern", "template", "text", "expected"),
    [
        pytest.param(p, t, s, e, id=f"go-regexp_test:replaceTests:{p}|{t}|{s}")
        for p, t, s, e in REPLACE_TESTS
    ]
    + [
        pytest.param("a(x*)b", "$1", "-axxb-", "xx", id="go-example:ReplaceAllString:$1"),
        pytest.param("a(x*)b", "$1W", "-axxb-", "", id="go-example:ReplaceAllString:$1W"),
        pytest.param("a(x*)b", "${1}W", "-axxb-", "xxW", id="go-example:ReplaceAllString:${1}W"),
        pytest.param("a(?P<1W>x*)b", "$1W", "-axxb-", "xx", id="go-example:ReplaceAllString:1W"),
        pytest.param(
            r"(?m)(?P<key>\w+):\s+(?P<value>\w+)$",
            "$key=$value\n",
            "\n# comment line\noption1: value1\n",
            "option1=value1\n",
            id="go-example:Regexp.Expand",
        ),
        pytest.param("(a)", "$01", "a", "", id="go-syntax:extract:leading-zero-is-a-name"),
        pytest.param("(?P<01>a)", "$01", "a", "a", id="go-syntax:extract:name-01"),
        pytest.param("(a)", "$100000000", "a", "", id="go-syntax:extract:huge-number"),
        pytest.param("(?P<ab>a)", "$ab_", "a", "", id="go-syntax:extract:longest-name"),
        pytest.param("(?P<ab>a)", "$ab-", "a", "a-", id="go-syntax:extract:name-ends-at-dash"),
        pytest.param("(?P<ab>a)", "${ab", "a", "${ab", id="go-syntax:extract:unclosed-brace"),
        pytest.param("(?P<ab>a)", "${}", "a", "${}", id="go-syntax:extract:empty-braces"),
        pytest.param("(?P<ab>a)", "$-", "a", "$-", id="go-syntax:extract:dollar-dash"),
        pytest.param("(?P<ab>a)", "$abé", "a", "", id="go-syntax:extract:unicode-letter-in-name"),
        pytest.param("(?P<ab>a)", "${ab}é", "a", "aé", id="go-syntax:extract:braces-delimit"),
        pytest.param("(a)|(b)", "[$1][$2]", "b", "[][b]", id="go-syntax:expand:unmatched-group"),
    ],
)
def test_expand(pattern: str, template: str, text: str, expected: str) -> None:
    rx = GoRegexp(pattern)
    match = rx.find_submatch_index(text)
    assert match is not None
    assert rx.expand(template, text, match) == expected


def test_no_match() -> None:
    """go-regexp_test:replaceTests:abc|$1|123 -- nothing matches, nothing is expanded."""
    assert GoRegexp("abc").find_submatch_index("123") is None


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        pytest.param("本(語)", "日本語", [3, 9, 6, 9], id="go-syntax:byte-offsets"),
        pytest.param("(a)(b)?", "a", [0, 1, 0, 1, -1, -1], id="go-syntax:unset-group"),
        pytest.param("a|ab", "ab", [0, 1], id="go-syntax:leftmost-first-not-longest"),
        pytest.param("(a*)(a*)", "aa", [0, 2, 0, 2, 2, 2], id="go-syntax:greedy-first"),
        pytest.param("x*", "日", [0, 0], id="go-regexp_test:findTests:x*-empty-at-0"),
        pytest.param(".", "日", [0, 3], id="go-syntax:dot-is-one-rune"),
        pytest.param(r"\d", "١2", [2, 3], id="go-syntax:perl-d-is-ascii"),
        pytest.param(r"\bfoo\b", "a foo!", [2, 5], id="go-syntax:word-boundary"),
        pytest.param("(?i)MASTER", "master", [0, 6], id="go-syntax:flag-i"),
        pytest.param("^b", "ab", None, id="go-syntax:caret-is-text-start"),
        pytest.param("a$", "a\n", None, id="go-syntax:dollar-is-text-end"),
        pytest.param(r"a\z", "a", [0, 1], id="go-syntax:z"),
        pytest.param("[[:alpha:]]+", "12ab", [2, 4], id="go-syntax:posix-class"),
        pytest.param(r"\pL+", "1é2", [1, 3], id="go-syntax:unicode-class"),
        pytest.param(r"\Qa.b\E", "axb a.b", [4, 7], id="go-syntax:quote"),
    ],
)
def test_find_submatch_index(pattern: str, text: str, expected: list[int] | None) -> None:
    assert GoRegexp(pattern).find_submatch_index(text) == expected


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        pytest.param("(?P<ts>\\d+)", ("", "ts"), id="go-syntax:P-name"),
        pytest.param("(?<ts>\\d+)", ("", "ts"), id="go-syntax:go1.22-angle-name"),
        pytest.param("(a)(?:b)(?P<c>c)(?i:d)(e)", ("", "", "c", ""), id="go-syntax:numbering"),
        pytest.param("[(](x)", ("", ""), id="go-syntax:paren-in-class"),
        pytest.param(r"\((x)", ("", ""), id="go-syntax:escaped-paren"),
        pytest.param(r"\Q(\E(x)", ("", ""), id="go-syntax:paren-in-quote"),
        pytest.param("[]()](x)", ("", ""), id="go-syntax:bracket-first-in-class"),
        pytest.param("[[:alpha:](](x)", ("", ""), id="go-syntax:posix-in-class"),
        pytest.param("(?P<a>x)(?P<a>y)", ("", "a", "a"), id="go-syntax:duplicate-names"),
    ],
)
def test_group_names(pattern: str, names: tuple[str, ...]) -> None:
    assert GoRegexp(pattern).names == names


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        pytest.param("(", "missing", id="go-syntax:missing-paren"),
        pytest.param("^test-(.*", "missing", id="flux-policy_test:filterTags:invalid-regex"),
        pytest.param("[a", "missing", id="go-syntax:missing-bracket"),
        pytest.param("a{1001}", "repetition size", id="go-syntax:repeat-over-1000"),
        pytest.param("a**", "repetition", id="go-syntax:nested-repetition"),
        pytest.param(r"\Z", "escape", id="go-syntax:no-Z"),
        pytest.param(r"\C", "escape", id="go-syntax:no-C"),
        pytest.param("(?P<é>x)", "named capture", id="go-syntax:isValidCaptureName:ascii"),
        pytest.param("(?P<>x)", "named capture", id="go-syntax:isValidCaptureName:empty"),
        pytest.param("(?P<a-b>x)", "named capture", id="go-syntax:isValidCaptureName:dash"),
        pytest.param("(?P=a)", "perl operator", id="go-syntax:no-backreference"),
        pytest.param("(?<=a)b", "perl operator", id="go-syntax:no-lookbehind"),
        pytest.param("[[:foo:]]", "class", id="go-syntax:unknown-posix-class"),
        pytest.param("x{2,1}", "repet", id="go-syntax:min-over-max"),
    ],
)
def test_invalid_patterns(pattern: str, message: str) -> None:
    with pytest.raises(GoRegexpError, match=message):
        GoRegexp(pattern)


def test_scan_group_names_follows_go_name_rule() -> None:
    assert scan_group_names("(?P<a1_>x)(?<B>y)()") == ["", "a1_", "B", ""]
    with pytest.raises(GoRegexpError):
        scan_group_names("(?<na me>x)")


# --------------------------------------------------------------------------------- filter


@pytest.mark.parametrize(
    ("tags", "pattern", "extract", "expected"),
    [
        pytest.param(["a"], "", "", {"a": "a"}, id="flux-filter_test:none"),
        pytest.param(["a", "b"], "", "<$0$1>", {"<>": "b"}, id="go-syntax:empty-pattern-extract"),
        pytest.param(
            ["ver1", "ver2", "ver3", "rel1"],
            "^ver",
            "",
            {"ver1": "ver1", "ver2": "ver2", "ver3": "ver3"},
            id="flux-filter_test:valid-pattern",
        ),
        pytest.param(
            ["ver1", "ver2", "ver3", "rel1"],
            r"ver(\d+)",
            "$1",
            {"1": "ver1", "2": "ver2", "3": "ver3"},
            id="flux-filter_test:capture-group",
        ),
        pytest.param(
            ["a-1", "b-1", "a-2"],
            r"^\w-(\d)$",
            "$1",
            {"1": "b-1", "2": "a-2"},
            id="flux-filter.go:map-keeps-the-last-tag-per-value",
        ),
        pytest.param(
            ["x-1", "y-2"],
            r"^(\w)-(\d)$",
            "$2.$1",
            {"1.x": "x-1", "2.y": "y-2"},
            id="extract:mixed",
        ),
        pytest.param(["v1", "v2"], "^v", "$nope", {"": "v2"}, id="go-syntax:unknown-name-is-empty"),
        pytest.param(["éa", "ba"], "^(.)a$", "$1", {"é": "éa", "b": "ba"}, id="go-syntax:rune"),
    ],
)
def test_tag_filter(tags: list[str], pattern: str, extract: str, expected: dict[str, str]) -> None:
    f = TagFilter(pattern, extract)
    assert f.apply(tags) == expected
    assert list(f.apply(tags)) == list(expected)  # first-appearance order of values
    assert f.apply_re2(tags) == expected


@pytest.mark.parametrize(
    ("pattern", "fast"),
    [
        pytest.param("^master-[a-f0-9]+-(?P<ts>[0-9]+)", True, id="seed:pattern"),
        pytest.param("^main-[a-fA-F0-9]+-(?P<ts>.*)", True, id="flux-docs:main-ts"),
        pytest.param(r"^RELEASE\.(?P<timestamp>.*)Z$", False, id="flux-docs:minio(.*-then-Z)"),
        pytest.param(".*-rc.*", False, id="flux-docs:rc(unanchored)"),
        pytest.param(r"^v(\d+)\.(\d+)\.(\d+)$", True, id="fast-path:anchored-semver"),
        pytest.param("(a+)+$", False, id="fast-path:hostile"),
        pytest.param("^a*a", False, id="fast-path:overlapping-repetitions"),
        pytest.param("^(a|b)", False, id="fast-path:alternation"),
        pytest.param("^(?i)a", False, id="fast-path:flags"),
        pytest.param("^[[:alpha:]]+", False, id="fast-path:posix-class"),
        pytest.param("^a{2,3}b", True, id="fast-path:counted-repetition"),
        pytest.param("^a*?b", False, id="fast-path:lazy"),
        pytest.param("^(ab)+", False, id="fast-path:repeated-group"),
    ],
)
def test_fast_path_selection(pattern: str, fast: bool) -> None:
    assert TagFilter(pattern, "").uses_fast_path is fast


def test_hostile_pattern_runs_in_linear_time() -> None:
    """``(a+)+$`` against ``aaaa…!``: exponential for a backtracking engine, linear on RE2."""
    f = TagFilter("(a+)+$", "")
    tags = ["a" * 100_000 + "!", "a" * 30 + "!", "b" * 50_000 + "a"]
    start = time.perf_counter()
    assert f.apply(tags) == {"b" * 50_000 + "a": "b" * 50_000 + "a"}
    assert time.perf_counter() - start < 2.0


def test_fast_path_is_linear_on_long_tags() -> None:
    f = TagFilter("^[a-z]+-(?P<n>[0-9]+)$", "$n")
    assert f.uses_fast_path
    tags = ["a" * 200_000, "a" * 200_000 + "-7", "-" * 200_000]
    start = time.perf_counter()
    assert f.apply(tags) == {"7": "a" * 200_000 + "-7"}
    assert time.perf_counter() - start < 2.0


def test_fast_path_falls_back_on_newlines() -> None:
    f = TagFilter("^a(?P<n>[0-9])", "$n")
    tags = ["a1", "a2\na3", "a4"]
    assert f.apply(tags) == f.apply_re2(tags) == {"1": "a1", "2": "a2\na3", "4": "a4"}


# ----------------------------------------------------------- fast path == RE2 (property)

_atoms = st.sampled_from(
    ["a", "b", "-", ".", "[a-c]", "[^a]", "[0-9]", r"\d", r"\w", r"\s", r"\.", "é", "[b-]"]
)
_quants = st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,3}", "{0,}", "*?"])


@st.composite
def patterns(draw: st.DrawFn) -> str:
    body = ""
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 5))
        if kind == 0:
            inner = "".join(draw(_atoms) + draw(_quants) for _ in range(draw(st.integers(1, 2))))
            body += draw(st.sampled_from(["(", "(?:", "(?P<g>", "(?<h>"])) + inner + ")"
            body += draw(st.sampled_from(["", "", "?", "+"]))
        elif kind == 1:
            body += draw(st.sampled_from(["|", "(a|b)"]))
        else:
            body += draw(_atoms) + draw(_quants)
    prefix = draw(st.sampled_from(["^", "^", r"\A", ""]))
    suffix = draw(st.sampled_from(["", "", "$", r"\z"]))
    return prefix + body + suffix


_tags = st.lists(st.text(alphabet="ab-.0123é \n", max_size=8), max_size=8)
_templates = st.sampled_from(["", "$0", "$1", "${1}x", "$g", "[$h]$2", "$$"])


@settings(
    max_examples=500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much],
)
@given(patterns(), _templates, _tags)
def test_fast_path_agrees_with_re2(pattern: str, template: str, tags: list[str]) -> None:
    try:
        f = TagFilter(pattern, template)
    except GoRegexpError:
        return
    assert f.apply(tags) == f.apply_re2(tags)


@st.composite
def subset_patterns(draw: st.DrawFn) -> str:
    """Patterns mostly inside the fast path's subset (anchored, no alternation)."""
    body = ""
    for _ in range(draw(st.integers(0, 6))):
        atom = draw(_atoms) + draw(st.sampled_from(["", "", "+", "*", "?", "{1,2}"]))
        if draw(st.integers(0, 3)) == 0:
            atom = draw(st.sampled_from(["(", "(?:", "(?P<g>"])) + atom + ")"
        body += atom
    return "^" + body + draw(st.sampled_from(["", "$"]))


@settings(max_examples=500, deadline=None, database=None)
@given(subset_patterns(), _templates, _tags)
def test_fast_subset_agrees_with_re2(pattern: str, template: str, tags: list[str]) -> None:
    f = TagFilter(pattern, template)
    assert f.apply(tags) == f.apply_re2(tags)


def test_a_pattern_is_compiled_once_per_process_and_a_bad_one_never_cached() -> None:
    from conveyor.services.registry_scanner.tags import exclude
    from conveyor.shared.goregexp import compiled

    assert compiled(r"^.*\.sig$") is compiled(r"^.*\.sig$")
    assert exclude(["v1", "sha256-ab.sig", "v2"], [r"^.*\.sig$"], "o") == ["v1", "v2"]
    for _ in range(2):
        with pytest.raises(GoRegexpError):
            compiled("(?<=lookbehind)")
