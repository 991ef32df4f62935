"""The commit message template renderer: Go text/template semantics, and every template of
Flux's documentation.

Expected outputs were checked against Go's own text/template (Go 1.26) with Sprig v3.3.0's
hermetic function map, as image-automation-controller parses templates. Flux's documented
templates are rendered verbatim over Flux's data built as a run builds it (``flux_data``): the
docs' YAML blocks are ``flux_docs/<name>.yaml``, the messages Go renders from them
``flux_docs/expected/<name>.<apiVersion>.txt`` (where Go ranges over a map its order varies from
run to run, and the expected message is conveyor's order, one of Go's). The data's own details
are in ``test_flux_templates.py``, Sprig's functions in ``test_sprig.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conveyor.services.git_committer.message import (
    NamespacedName,
    ObjectIdentifier,
    Update,
    image_ref,
)
from conveyor.services.git_committer.template import (
    MAX_NESTING,
    MAX_OUTPUT_BYTES,
    MAX_STEPS,
    MAX_TEMPLATE_BYTES,
    render,
    validate,
)
from conveyor.shared.errors import InvalidSpec, PermanentError
from tests.committer.flux_data import DOCS, SOURCES, described, message, template_of

DEPLOYMENT = ObjectIdentifier.of("apps/v1", "Deployment", "podinfo", "apps")


# ------------------------------------------------------------ Flux's documented templates


@pytest.fixture
def flux_changes(tmp_path: Path) -> list[Update]:
    return described(tmp_path)


DOCUMENTED = [
    pytest.param(name, api, id=f"{name}-{api}")
    for name, (_, apis) in SOURCES.items()
    for api in apis
]


@pytest.mark.parametrize(("name", "api"), DOCUMENTED)
def test_flux_documentation_templates(name: str, api: str, flux_changes: list[Update]) -> None:
    """Every template of Flux's docs, verbatim (``flux_data.SOURCES``), over Flux's data."""
    template, values = template_of((DOCS / f"{name}.yaml").read_text())
    expected = DOCS / "expected" / f"{name}.{api}.txt"
    if not expected.exists():  # the docs' example fails in Flux as well: Go says so too
        with pytest.raises(InvalidSpec) as info:
            message(template, flux_changes, api, **(values or {}))
        error = (DOCS / "expected" / f"{name}.{api}.error").read_text().strip()
        assert error in str(info.value)
        return
    assert message(template, flux_changes, api, **(values or {})) == expected.read_text()


def test_every_documented_block_is_tested() -> None:
    assert sorted(p.stem for p in DOCS.glob("*.yaml")) == sorted(SOURCES)
    tested = {f"{name}.{api}" for name, (_, apis) in SOURCES.items() for api in apis}
    assert {p.name.rsplit(".", 1)[0] for p in (DOCS / "expected").iterdir()} == tested


# ------------------------------------------------------------------------- plain data

TRIM_CASES = [
    pytest.param("a  {{- 1 -}}  b", {}, "a1b", id="trim-both-sides"),
    pytest.param("one\n\n\t {{- .S }}", {"S": "X"}, "oneX", id="left-trim-eats-newlines-tabs"),
    pytest.param("{{ .S -}}\n\t  \nnext", {"S": "X"}, "Xnext", id="right-trim-eats-blank-lines"),
    pytest.param("a\r\n{{- 1 }}", {}, "a1", id="left-trim-eats-crlf"),
    pytest.param("a {{ 3 }} b", {}, "a 3 b", id="no-marker-keeps-spaces"),
    pytest.param("a {{-3}} b", {}, "a -3 b", id="dash-without-space-is-a-number"),
    pytest.param("{{ 1 }} {{- 2 }}", {}, "12", id="trims-only-the-adjacent-text"),
    pytest.param("a\u00a0{{- 1 }}", {}, "a\u00a01", id="no-break-space-is-not-trimmed"),
    pytest.param("{{- 1 -}}", {}, "1", id="markers-at-template-edges"),
    pytest.param("a \n{{- /* note */ -}}\n b", {}, "ab", id="trimmed-comment"),
    pytest.param("x{{/* a comment\nover lines */}}y", {}, "xy", id="comment-renders-nothing"),
    pytest.param(
        "- {{ range .L -}}\n  {{ . }},\n{{- end }}\n",
        {"L": ["a", "b"]},
        "- a,b,\n",
        id="trim-inside-range-body",
    ),
]

VALUE_CASES = [
    pytest.param("{{ .Name }}", {"Name": "podinfo"}, "podinfo", id="map-key"),
    pytest.param("{{ .A.B.C }}", {"A": {"B": {"C": "deep"}}}, "deep", id="nested-map-keys"),
    pytest.param("{{ .lower }}", {"lower": "ok"}, "ok", id="lower-case-map-key"),
    pytest.param(
        "{{ .Missing }}|{{ .Missing.Deeper }}",
        {},
        "<no value>|<no value>",
        id="missing-key-prints-no-value",
    ),
    pytest.param("{{ .Nil }}", {"Nil": None}, "<no value>", id="nil-prints-no-value"),
    pytest.param(
        "{{ .T }} {{ .F }} {{ .I }} {{ .Neg }} {{ .Fl }} {{ .Whole }} {{ .Big }} {{ .Small }}",
        {
            "T": True,
            "F": False,
            "I": 42,
            "Neg": -7,
            "Fl": 2.5,
            "Whole": 3.0,
            "Big": 1234567.0,
            "Small": 0.00001,
        },
        "true false 42 -7 2.5 3 1.234567e+06 1e-05",
        id="scalars-print-like-go",
    ),
    pytest.param(
        "{{ .L }} {{ .M }} {{ .E }}",
        {"L": ["a", 1, True, None], "M": {"b": [1], "a": None}, "E": []},
        "[a 1 true <nil>] map[a:<nil> b:[1]] []",
        id="collections-print-like-go",
    ),
    pytest.param("{{ $ }}", {"a": "x"}, "map[a:x]", id="dollar-is-the-data"),
    pytest.param("{{ . }}", {"a": "x"}, "map[a:x]", id="dot-is-the-data"),
    pytest.param(
        "{{ $img := .Image }}{{ $img.Repo }}:{{ $img.Tag }}",
        {"Image": {"Repo": "nginx", "Tag": "1.25"}},
        "nginx:1.25",
        id="variable-with-fields",
    ),
    pytest.param(
        "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
        {},
        "2",
        id="assignment-updates-outer-variable",
    ),
    pytest.param(
        '{{ $x := "out" }}{{ with .W }}{{ $x := "in" }}{{ $x }}{{ end }}-{{ $x }}',
        {"W": 1},
        "in-out",
        id="declaration-is-scoped-to-its-block",
    ),
    pytest.param(
        "{{ \"dq\\t\\u00e9\" }} {{ `raw\\n` }} {{ 'a' }} {{ 0x1F }} {{ 1_000 }} {{ 1.0 }}",
        {},
        "dq\t\u00e9 raw\\n 97 31 1000 1",
        id="literals",
    ),
    pytest.param("{{ (.A).B }}", {"A": {"B": "x"}}, "x", id="field-of-parenthesized-pipeline"),
]

RANGE_CASES = [
    pytest.param(
        "{{ range .L }}[{{ . }}]{{ end }}", {"L": ["a", "b"]}, "[a][b]", id="list-dot-is-element"
    ),
    pytest.param(
        "{{ range $i, $v := .L }}{{ $i }}={{ $v }} {{ end }}",
        {"L": ["a", "b"]},
        "0=a 1=b ",
        id="list-index-and-value",
    ),
    pytest.param(
        "{{ range $v := .L }}{{ $v }}{{ end }}",
        {"L": ["a", "b"]},
        "ab",
        id="one-variable-is-the-element",
    ),
    pytest.param(
        "{{ range .M }}{{ . }} {{ end }}",
        {"M": {"b": 2, "c": 3, "a": 1}},
        "1 2 3 ",
        id="map-dot-is-value-in-sorted-key-order",
    ),
    pytest.param(
        "{{ range $k, $v := .M }}{{ $k }}={{ $v }};{{ end }}",
        {"M": {"zeta": 1, "alpha": 2, "Beta": 3}},
        "Beta=3;alpha=2;zeta=1;",
        id="map-keys-sorted-bytewise",
    ),
    pytest.param(
        "{{ range $k, $v := .M }}{{ $k }},{{ end }}",
        {"M": {10: "a", 9: "b", 100: "c"}},
        "9,10,100,",
        id="int-keys-sorted-numerically",
    ),
    pytest.param(
        "{{ range .L }}x{{ else }}empty{{ end }}", {"L": []}, "empty", id="empty-list-runs-else"
    ),
    pytest.param(
        "{{ range .M }}x{{ else }}empty{{ end }}", {"M": {}}, "empty", id="empty-map-runs-else"
    ),
    pytest.param(
        "{{ range .Missing }}x{{ else }}none{{ end }}", {}, "none", id="missing-runs-else"
    ),
    pytest.param(
        "{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}"
        "{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
        {"L": [1, 2, 3, 4, 5]},
        "13",
        id="break-and-continue",
    ),
    pytest.param("{{ range 3 }}{{ . }}{{ end }}", {}, "012", id="range-over-int"),
    pytest.param(
        "{{ range .L }}{{ $.Sep }}{{ . }}{{ end }}",
        {"L": ["a", "b"], "Sep": "/"},
        "/a/b",
        id="dollar-inside-range",
    ),
    pytest.param(
        "{{ range $f, $imgs := .Files }}{{ $f }}:{{ range $imgs }} {{ . }}{{ end }};{{ end }}",
        {"Files": {"b.yaml": ["x:2"], "a.yaml": ["x:1", "y:1"]}},
        "a.yaml: x:1 y:1;b.yaml: x:2;",
        id="nested-ranges",
    ),
]

CONDITION_CASES = [
    pytest.param(
        "{{ if .A }}a{{ else if .B }}b{{ else }}c{{ end }}",
        {"A": [0], "B": ""},
        "a",
        id="if-taken",
    ),
    pytest.param(
        "{{ if .A }}a{{ else if .B }}b{{ else }}c{{ end }}",
        {"A": 0, "B": "x"},
        "b",
        id="else-if-taken",
    ),
    pytest.param(
        "{{ if .A }}a{{ else if .B }}b{{ else }}c{{ end }}", {"A": 0, "B": ""}, "c", id="else"
    ),
    pytest.param(
        "{{ with .Image }}{{ .Repo }}{{ else }}none{{ end }}",
        {"Image": {"Repo": "nginx"}},
        "nginx",
        id="with-sets-dot",
    ),
    pytest.param(
        "{{ with .Image }}{{ .Repo }}{{ else }}none{{ end }}",
        {"Image": {}},
        "none",
        id="with-empty-runs-else",
    ),
    pytest.param(
        "{{ with .E }}a{{ else with .N }}n={{ . }}{{ else }}c{{ end }}",
        {"E": "", "N": 5},
        "n=5",
        id="else-with",
    ),
    pytest.param("{{ if and .A (not .B) }}yes{{ end }}", {"A": 1, "B": 0}, "yes", id="and-not"),
    pytest.param("{{ if $x := .A }}{{ $x }}{{ end }}", {"A": "v"}, "v", id="if-declares"),
]

FUNCTION_CASES = [
    pytest.param(
        "{{ len .S }} {{ len .L }} {{ len .M }}",
        {"S": "héllo", "L": [1, 2], "M": {"a": 1}},
        "6 2 1",
        id="len-counts-utf8-bytes-like-go",
    ),
    pytest.param(
        '{{ index .L 1 }} {{ index .M "a" }} {{ index .N "x" "y" }} {{ index .S 0 }}',
        {"L": ["a", "b"], "M": {"a": 1}, "N": {"x": {"y": "deep"}}, "S": "hi"},
        "b 1 deep 104",
        id="index",
    ),
    pytest.param('{{ index .M "zz" }}', {"M": {"a": 1}}, "<no value>", id="index-missing-key"),
    pytest.param(
        "{{ slice .L 1 }} {{ slice .L }} {{ slice .L 0 1 }}",
        {"L": [1, 2, 3]},
        "[2 3] [1 2 3] [1]",
        id="slice-is-sprigs",
    ),
    pytest.param(
        '{{ printf "%s:%d %v %q" .S .N .L .Q }}',
        {"S": "a", "N": 3, "L": ["x", "y"], "Q": 'say "hi"\n\ttab'},
        'a:3 [x y] "say \\"hi\\"\\n\\ttab"',
        id="printf-s-d-v-q",
    ),
    pytest.param(
        '{{ printf "%q" .Q }}', {"Q": "é\u00a0\x01"}, '"é\\u00a0\\x01"', id="printf-q-go-escapes"
    ),
    pytest.param(
        '{{ printf "%d|%s|%d" .S .N }}',
        {"S": "a", "N": 3},
        "%!d(string=a)|%!s(int=3)|%!d(MISSING)",
        id="printf-wrong-types-like-go",
    ),
    pytest.param(
        '{{ printf "x" 1 "a" }}', {}, "x%!(EXTRA int=1, string=a)", id="printf-extra-args"
    ),
    pytest.param(
        '{{ printf "%s" .M }} {{ printf "%4s" 1 }} {{ printf "%.3d|%x|%+q" 7 .F "é" }}',
        {"M": {"a": 1, "b": "x"}, "F": 3.5},
        'map[a:%!s(int=1) b:x] %!s(int=   1) 007|0x1.cp+01|"\\u00e9"',
        id="printf-go-corners",
    ),
    pytest.param(
        '{{ printf "%-6s|%6s|%03d|%x|%.2f|%t" "ab" "cd" 7 255 3.14159 true }}',
        {},
        "ab    |    cd|007|ff|3.14|true",
        id="printf-width-flags-precision",
    ),
    pytest.param(
        '{{ print 1 2 "a" "b" 3 .T }}|{{ println "x" 1 }}',
        {"T": True},
        "1 2ab3 true|x 1\n",
        id="print-println-spacing",
    ),
    pytest.param(
        '{{ .S | printf "%s!" }} {{ .L | len }} {{ .S | printf "%s-%s" "x" }}',
        {"S": "a", "L": [1, 2]},
        "a! 2 x-a",
        id="pipeline-value-is-last-argument",
    ),
    pytest.param(
        '{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 "" }} {{ or 0 "x" 3 }} {{ not 0 }}',
        {},
        "0 2  x true",
        id="and-or-return-operands",
    ),
    pytest.param("{{ or .A (index .L 5) }}", {"A": "x", "L": []}, "x", id="or-short-circuits"),
    pytest.param(
        '{{ eq .N 1 }} {{ eq .N 2 3 1 }} {{ ne .S "b" }} {{ lt 1 2 }} {{ le 2 2 }} '
        '{{ gt "b" "a" }} {{ ge 1.5 2.5 }} {{ eq .Nil nil }}',
        {"N": 1, "S": "a", "Nil": None},
        "true true true true true true false true",
        id="comparisons",
    ),
]


@pytest.mark.parametrize(
    ("template", "data", "expected"),
    TRIM_CASES + VALUE_CASES + RANGE_CASES + CONDITION_CASES + FUNCTION_CASES,
)
def test_render(template: str, data: dict[Any, Any], expected: str) -> None:
    assert render(template, data) == expected


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        pytest.param(False, "no", id="false"),
        pytest.param(0, "no", id="zero"),
        pytest.param(0.0, "no", id="zero-float"),
        pytest.param("", "no", id="empty-string"),
        pytest.param([], "no", id="empty-list"),
        pytest.param({}, "no", id="empty-map"),
        pytest.param(None, "no", id="nil"),
        pytest.param(True, "yes", id="true"),
        pytest.param(-1, "yes", id="negative"),
        pytest.param(0.5, "yes", id="fraction"),
        pytest.param("false", "yes", id="string-false"),
        pytest.param([0], "yes", id="list-of-zero"),
        pytest.param({"k": None}, "yes", id="map-with-nil"),
        pytest.param(ObjectIdentifier.of("", "", "", ""), "yes", id="struct"),
    ],
)
def test_go_truthiness(value: Any, truth: str) -> None:
    assert render("{{ if .V }}yes{{ else }}no{{ end }}", {"V": value}) == truth


def test_missing_key_is_false() -> None:
    assert render("{{ if .Nope }}yes{{ else }}no{{ end }}", {}) == "no"


# ------------------------------------------------------------------------------ objects


@dataclass
class Repo:
    Name: str
    Tags: list[str]
    token: str = "s3cret"

    def Latest(self) -> str:
        return self.Tags[-1]

    def TagAt(self, i: int) -> str:
        return self.Tags[i]

    def Wrap(self, left: str, text: str) -> str:
        return f"{left}{text}>"

    def Each(self) -> Iterator[str]:
        yield from self.Tags


@dataclass
class Plain:
    A: str
    B: int


class Broken:
    def String(self) -> str:
        raise RuntimeError("registry unreachable")


def objects() -> dict[str, Any]:
    return {
        "Repo": Repo("podinfo", ["5.0.1", "5.0.3"]),
        "Ref": image_ref("ghcr.io/x:1", NamespacedName("flux-system", "x")),
        "Plain": Plain("a", 1),
        "M": {"a": 1},
        "ByObject": {DEPLOYMENT: ["x"]},
        "Broken": Broken(),
    }


OBJECT_CASES = [
    pytest.param("{{ .Repo.Name }}", "podinfo", id="attribute"),
    pytest.param("{{ .Repo.Latest }}", "5.0.3", id="niladic-method-is-called"),
    pytest.param("{{ .Repo.TagAt 0 }}", "5.0.1", id="method-with-argument"),
    pytest.param('{{ "x" | .Repo.Wrap "<" }}', "<x>", id="piped-value-is-last-method-arg"),
    pytest.param("{{ $r := .Repo }}{{ $r.Latest }}", "5.0.3", id="method-through-variable"),
    pytest.param("{{ range .Repo.Each }}{{ . }};{{ end }}", "5.0.1;5.0.3;", id="range-iterator"),
    pytest.param("{{ .Ref }}", "ghcr.io/x:1", id="String-method-prints-like-a-Stringer"),
    pytest.param(
        '{{ printf "%s|%v|%q" .Ref .Ref .Ref }}',
        'ghcr.io/x:1|ghcr.io/x:1|"ghcr.io/x:1"',
        id="printf-uses-String",
    ),
    pytest.param("{{ .Plain }}", "{a 1}", id="struct-prints-like-go"),
    pytest.param("{{ .M.keys }}", "<no value>", id="dict-methods-are-not-fields"),
    pytest.param("{{ len .Repo.Tags }}", "2", id="len-of-attribute"),
]


@pytest.mark.parametrize(("template", "expected"), OBJECT_CASES)
def test_objects(template: str, expected: str) -> None:
    assert render(template, objects()) == expected


def test_missing_key_does_not_grow_a_defaultdict() -> None:
    data: defaultdict[str, list[str]] = defaultdict(list)
    assert render("{{ .Missing }}", data) == "<no value>"
    assert "Missing" not in data


# ------------------------------------------------------------------------------- errors

ERROR_CASES = [
    pytest.param("Files:\n- {{ .Name", {}, ("line 2, column 3", "unclosed action"), id="unclosed"),
    pytest.param(
        "a\n{{ .X }\n}b",
        {},
        ("line 2, column 7", "unrecognized character in action: '}'"),
        id="single-closing-brace",
    ),
    pytest.param(
        "{{ range .Images }}\n{{ .Name | lowercase }}\n{{ end }}",
        {},
        ("line 2, column 12", 'function "lowercase" not defined'),
        id="unknown-function",
    ),
    pytest.param(
        '{{ slice "abcd" 1 3 }}',
        {},
        ("error calling slice: list should be type of slice or array but string",),
        id="sprigs-slice-refuses-a-string-as-in-flux",
    ),
    pytest.param("text\n\n{{ end }}", {}, ("line 3, column 1", "unexpected {{end}}"), id="end"),
    pytest.param("{{ else }}", {}, ("line 1, column 1", "unexpected {{else}}"), id="else"),
    pytest.param(
        "{{ if .A }}\nyes\n",
        {},
        ("line 1, column 1", "unexpected EOF: {{if}} is never closed by {{end}}"),
        id="unclosed-if",
    ),
    pytest.param(
        "x\n  {{ range .L }}{{ if . }}\n{{ end }}",
        {},
        ("line 2, column 3", "{{range}} is never closed"),
        id="unclosed-range",
    ),
    pytest.param(
        "{{ if 1 }}{{ else }}{{ else }}{{ end }}",
        {},
        ("column 21", "expected {{end}}; found {{else}}"),
        id="two-elses",
    ),
    pytest.param(
        "{{ range .L }}{{ else if 1 }}{{ end }}",
        {},
        ("column 15", "{{else if}} cannot continue {{range}}"),
        id="else-if-in-range",
    ),
    pytest.param("{{ $nope }}", {}, ('undefined variable "$nope"',), id="undefined-variable"),
    pytest.param(
        "{{ range $x := .L }}{{ end }}{{ $x }}",
        {},
        ("column 33", 'undefined variable "$x"'),
        id="variable-out-of-scope",
    ),
    pytest.param("{{ break }}", {}, ("{{break}} outside {{range}}",), id="break-outside-range"),
    pytest.param(
        '{{ printf "%s }}', {}, ("column 11", "unterminated quoted string"), id="open-string"
    ),
    pytest.param("{{/* note", {}, ("unclosed comment",), id="unclosed-comment"),
    pytest.param(
        "{{/* note */ }}", {}, ("comment ends before closing delimiter",), id="comment-delim"
    ),
    pytest.param("{{ if }}{{ end }}", {}, ("missing value for if",), id="empty-if"),
    pytest.param(
        '{{ .S | "x" }}', {}, ("non executable command in pipeline stage 2",), id="literal-stage"
    ),
    pytest.param("{{ nil }}", {}, ("nil is not a command",), id="nil-command"),
    pytest.param(
        "{{ with $a, $b := .L }}{{ end }}", {}, ("too many declarations in with",), id="with-2"
    ),
    pytest.param(
        '{{ template "x" }}', {}, ("{{template}} is not supported",), id="template-unsupported"
    ),
    pytest.param("{{ 1.2.3 }}", {}, ("bad number syntax",), id="bad-number"),
    pytest.param(
        "{{ .M.a 1 }}", {"M": {"a": 1}}, ("a is not a method but has arguments",), id="map-args"
    ),
    pytest.param(
        "{{ .Nil.Field }}",
        {"Nil": None},
        ("at <.Nil.Field>: nil pointer evaluating field Field",),
        id="nil-pointer",
    ),
    pytest.param(
        "{{ .S.Len }}",
        {"S": "abc"},
        ("can't evaluate field Len in type string",),
        id="field-of-string",
    ),
    pytest.param(
        "{{ index .M 1 }}",
        {"M": {"a": 1}},
        ("error calling index: value has type int; should be string",),
        id="index-key-of-wrong-type",
    ),
    pytest.param(
        "{{ index .L 3 }}",
        {"L": [1]},
        ("error calling index: index out of range: 3",),
        id="index-out-of-range",
    ),
    pytest.param(
        '{{ eq .N "1" }}',
        {"N": 1},
        ("error calling eq: incompatible types for comparison: int and string",),
        id="eq-mixed-types",
    ),
    pytest.param("{{ lt true false }}", {}, ("invalid type for comparison",), id="lt-on-bools"),
    pytest.param(
        "{{ not 1 2 }}", {}, ("wrong number of args for not: want 1 got 2",), id="not-arity"
    ),
    pytest.param(
        "\n{{ range .S }}{{ end }}",
        {"S": "abc"},
        ("line 2, column 1", "range can't iterate over abc"),
        id="range-over-string",
    ),
]


@pytest.mark.parametrize(("template", "data", "fragments"), ERROR_CASES)
def test_errors(template: str, data: dict[str, Any], fragments: tuple[str, ...]) -> None:
    with pytest.raises(InvalidSpec) as info:
        render(template, data)
    message = str(info.value)
    assert message.startswith("commit message template: line ")
    for fragment in fragments:
        assert fragment in message


OBJECT_ERROR_CASES = [
    pytest.param(
        "Objects:\n{{ .Repo.Nmae }}",
        ("line 2, column 4", "can't evaluate field Nmae in type Repo"),
        id="unknown-field-on-object",
    ),
    pytest.param(
        "{{ .Repo.token }}",
        ("token is an unexported field of type Repo",),
        id="lower-case-attribute-is-unexported",
    ),
    pytest.param("{{ .Repo.__class__ }}", ("__class__ is an unexported field",), id="dunder"),
    pytest.param("{{ .Repo.TagAt }}", ("wrong number of args for TagAt: got 0",), id="arity"),
    pytest.param(
        "{{ .ByObject.Kind }}",
        ("can't evaluate field Kind: the map's keys are not strings",),
        id="field-of-object-keyed-map",
    ),
    pytest.param(
        "{{ .Broken }}", ("error calling String: registry unreachable",), id="String-raises"
    ),
    pytest.param(
        '{{ printf "%s" .Broken }}',
        ("error calling printf: error calling String: registry unreachable",),
        id="String-raises-in-printf",
    ),
    pytest.param(
        "{{ .Repo.TagAt 9 }}",
        ("error calling TagAt: list index out of range",),
        id="method-raises",
    ),
    pytest.param(
        "{{ .Repo.Name 1 }}",
        ("Name has arguments but cannot be invoked as function",),
        id="attribute-with-arguments",
    ),
]


@pytest.mark.parametrize(("template", "fragments"), OBJECT_ERROR_CASES)
def test_object_errors(template: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(InvalidSpec) as info:
        render(template, objects())
    for fragment in fragments:
        assert fragment in str(info.value)


def test_errors_are_permanent_invalid_spec() -> None:
    with pytest.raises(PermanentError) as info:
        render("{{ lowercase .X }}", {})
    assert isinstance(info.value, InvalidSpec)
    assert info.value.reason == "InvalidSpec"


def test_validate_parses_without_data() -> None:
    validate("{{ range $k, $v := .Changed.Objects }}{{ $k.Kind | lower }}{{ end }}")
    validate("{{ .Anything.At.All }}")  # fields are only resolved when rendering
    with pytest.raises(InvalidSpec, match='line 1, column 4: function "lowercase" not defined'):
        validate("{{ lowercase .X }}")


# ------------------------------------------------------------------------------- guards


def test_output_is_capped_in_utf8_bytes() -> None:
    assert render("{{ .S }}", {"S": "x" * MAX_OUTPUT_BYTES}) == "x" * MAX_OUTPUT_BYTES
    # half as many characters, but two bytes each, plus one more character
    with pytest.raises(InvalidSpec, match=f"exceeds {MAX_OUTPUT_BYTES} bytes"):
        render("{{ .S }}", {"S": "é" * (MAX_OUTPUT_BYTES // 2 + 1)})


def test_output_cap_stops_a_range() -> None:
    with pytest.raises(InvalidSpec, match=f"rendered commit message exceeds {MAX_OUTPUT_BYTES}"):
        render("{{ range .L }}{{ . }}\n{{ end }}", {"L": ["x" * 1000] * 100})


def test_printf_width_cannot_allocate_past_the_cap() -> None:
    with pytest.raises(InvalidSpec, match="width or precision"):
        render('{{ printf "%999999999d" 1 }}', {})


def test_nesting_depth_is_capped() -> None:
    def nested(depth: int) -> str:
        return "{{ if true }}" * depth + "x" + "{{ end }}" * depth

    assert render(nested(MAX_NESTING), {}) == "x"
    with pytest.raises(InvalidSpec, match=f"nesting is deeper than {MAX_NESTING} levels"):
        render(nested(MAX_NESTING + 1), {})
    parens = MAX_NESTING + 1
    with pytest.raises(InvalidSpec, match="nesting is deeper"):
        render("{{ " + "(" * parens + "1" + ")" * parens + " }}", {})


def test_step_budget_stops_a_silent_loop() -> None:
    with pytest.raises(InvalidSpec, match=f"exceeded {MAX_STEPS} steps"):
        render("{{ range 1000000000 }}{{ end }}", {})


def test_template_size_is_capped() -> None:
    with pytest.raises(InvalidSpec, match=f"the limit is {MAX_TEMPLATE_BYTES}"):
        render("x" * (MAX_TEMPLATE_BYTES + 1), {})


def test_self_referencing_data_cannot_recurse_forever() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidSpec, match="nested deeper than"):
        render("{{ .L }}", {"L": loop})
