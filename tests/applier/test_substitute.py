"""postBuild substitution as a pure function: Flux's envsubst table, variables, objects."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.services.applier.substitute import (
    SubstituteRef,
    SubstitutionError,
    expand,
    substitute_objects,
    variables,
)

# fluxcd/pkg/envsubst eval_test.go TestExpand (from tldp.org), verbatim
FLUX_TABLE: list[tuple[dict[str, str], str, str]] = [
    ({}, "abcdEFGH28ij", "abcdEFGH28ij"),
    ({"var01": "abcdEFGH28ij"}, "${#var01}", "12"),
    ({"var01": "abcdEFGH28ij"}, "${var01^}", "AbcdEFGH28ij"),
    ({"var01": "abcdEFGH28ij"}, "${var01^^}", "ABCDEFGH28IJ"),
    ({"var01": "ABCDEFGH28IJ"}, "${var01,}", "aBCDEFGH28IJ"),
    ({"var01": "ABCDEFGH28IJ"}, "${var01,,}", "abcdefgh28ij"),
    ({"path_name": "/home/bozo/ideas/thoughts.for.today"}, "${path_name:11}",
     "ideas/thoughts.for.today"),
    ({"path_name": "/home/bozo/ideas/thoughts.for.today"}, "${path_name:11:5}", "ideas"),
    ({"var": "abc"}, "${var=xyz}", "abc"),
    ({}, "${var=xyz}", "xyz"),
    ({"default_var": "foo"}, "something ${var=${default_var}}", "something foo"),
    ({"default_var": "foo1"}, "foo: ${var=${default_var}-suffix}", "foo: foo1-suffix"),
    ({"default_var": "foo1"}, "foo: ${var=prefix${default_var}-suffix}",
     "foo: prefixfoo1-suffix"),
    ({}, "${var:=xyz}", "xyz"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/%abc/XYZ}", "abcABC123ABCXYZ"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/#abc/XYZ}", "XYZABC123ABCabc"),
    ({"stringZ": "somevalue"}, "${stringZ/#/prefix-}", "prefix-somevalue"),
    ({"stringZ": "somevalue"}, "${stringZ/%/-suffix}", "somevalue-suffix"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ//abc/xyz}", "xyzABC123ABCxyz"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/abc/xyz}", "xyzABC123ABCabc"),
    ({"filename": "bash.string.txt"}, "${filename#*.}", "string.txt"),
    ({"filename": "path/to/file"}, "${filename#*/}", "to/file"),
    ({"filename": "/path/to/file"}, "${filename#*/}", "path/to/file"),
    ({"filename": "bash.string.txt"}, "${filename##*.}", "txt"),
    ({"filename": "path/to/file"}, "${filename##*/}", "file"),
    ({"filename": "/path/to/file"}, "${filename##*/}", "file"),
    ({"filename": "bash.string.txt"}, "${filename%.*}", "bash.string"),
    ({"filename": "bash.string.txt"}, "${filename%%.*}", "bash"),
    ({"var01": "abcdEFGH28ij"}, "${var=${var01^^}}", "ABCDEFGH28IJ"),
    ({"var01": "abcdEFGH28ij"}, "$${var01}", "${var01}"),
    ({"var01": "abcdEFGH28ij"}, "some text ${var01}$${var$${var01}$var01${var01}",
     "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij"),
    ({"default_var": "foo"}, "something $${var=${default_var}}", "something ${var=foo}"),
    ({"stringZ": "foo/bar"}, r"${stringZ/\//-}", "foo-bar"),
    ({"stringZ": "foo/bar/baz"}, r"${stringZ//\//-}", "foo-bar-baz"),
    ({"default_var": "foo"}, "\\\\something ${var=${default_var}}", "\\\\something foo"),
    ({"stringZ": "foo.bar"}, "${stringZ/./}", "foobar"),
]


def unset(name: str) -> str | None:
    return None


@pytest.mark.parametrize(("params", "text", "want"), FLUX_TABLE, ids=[t[1] for t in FLUX_TABLE])
def test_flux_envsubst_table(params: dict[str, str], text: str, want: str) -> None:
    assert expand(text, lambda name: params.get(name, "")) == want


@pytest.mark.parametrize(
    ("values", "text", "want"),
    [
        pytest.param({}, "${missing}", "", id="unset-is-empty"),
        pytest.param({"v": ""}, "${v:=d}", "d", id="empty-takes-default"),
        pytest.param({"v": ""}, "${v=d}", "d", id="flux-toDefault-empty-counts-as-unset"),
        pytest.param({"v": "x"}, "${v:-d}", "x", id="colon-dash"),
        pytest.param({}, "$var and $ alone", "$var and $ alone", id="dollar-without-brace"),
        pytest.param({"a": "1"}, "${a}${a}$$", "11$", id="double-dollar"),
        pytest.param({"n": "web"}, "${n:1:-1}", "e", id="negative-length"),
        pytest.param({"n": "web"}, "${n:-2}", "web", id="colon-dash-is-default-not-offset"),
        pytest.param({"n": "web"}, "${n:0-2}", "web", id="offset-not-a-number"),
        pytest.param({"n": "web"}, "${n: -2}", "web", id="offset-with-space-as-go-atoi"),
        pytest.param({"n": "web"}, "${n:1}", "eb", id="offset"),
        pytest.param({}, "${a:=${b:=deep}}", "deep", id="nested-defaults"),
        pytest.param({"x": "a"}, "k: ${x}}", "k: a}", id="stray-brace-is-text"),
    ],
)
def test_expand(values: dict[str, str], text: str, want: str) -> None:
    assert expand(text, values.get) == want


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("${unclosed", "missing closing brace", id="unclosed"),
        pytest.param("${}", "unable to parse variable name", id="empty-name"),
        pytest.param("${x-y}", "missing closing brace", id="dash-without-colon-unsupported"),
        pytest.param("${x:=", "unable to parse substitution within function", id="open-default"),
        pytest.param("${x/a}", "bad substitution", id="replace-without-slash"),
    ],
)
def test_expand_errors(text: str, error: str) -> None:
    with pytest.raises(SubstitutionError, match=error):
        expand(text, unset)


def test_strict_mode_refuses_unset_variables_without_a_default() -> None:
    with pytest.raises(SubstitutionError, match='variable not set \\(strict mode\\): "a"'):
        expand("${a}", unset, strict=True)
    with pytest.raises(SubstitutionError, match="strict"):
        expand("${a^^}", unset, strict=True)
    assert expand("${a:=x}", unset, strict=True) == "x"


def test_variables_precedence_newlines_and_optional() -> None:
    data = {
        ("ConfigMap", "first"): {"a": "cm1", "b": "cm1", "multi": "one\ntwo\n"},
        ("Secret", "second"): {"b": "secret"},
    }

    def resolve(ref: SubstituteRef) -> dict[str, str] | None:
        return data.get((ref.kind, ref.name))

    post_build: dict[str, Any] = {
        "substitute": {"a": "inline"},
        "substituteFrom": [
            {"kind": "ConfigMap", "name": "first"},
            {"kind": "Secret", "name": "second"},
            {"kind": "ConfigMap", "name": "absent", "optional": True},
        ],
    }
    assert variables(post_build, resolve) == {"a": "inline", "b": "secret", "multi": "onetwo"}
    post_build["substituteFrom"].append({"kind": "Secret", "name": "absent"})
    with pytest.raises(SubstitutionError, match="substitute from 'Secret/absent' error"):
        variables(post_build, resolve)


@pytest.mark.parametrize("name", ["1abc", "with-dash", "dot.ted", "spa ce"])
def test_variable_names_must_be_identifiers(name: str) -> None:
    with pytest.raises(SubstitutionError, match=f"'{name}' var name is invalid"):
        variables({"substitute": {name: "v"}}, lambda ref: None)


def test_substitute_objects_reparses_yaml_and_honours_opt_out() -> None:
    objs = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "${name}"},
            "spec": {"replicas": "${n}", "paused": "${flag}"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "raw",
                "labels": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"},
            },
            "data": {"script": "echo ${name}\nexit 0\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "multi"},
            "data": {"script": "echo ${name}\nexit 0\n"},
        },
    ]
    out = substitute_objects(objs, {"name": "web", "n": "3", "flag": "true"})
    assert out[0]["metadata"]["name"] == "web"
    assert out[0]["spec"] == {"replicas": 3, "paused": True}  # YAML, as Flux: numbers quoted
    assert out[1] == objs[1]
    assert out[2]["data"]["script"] == "echo web\nexit 0\n"
    # no variables at all: no substitution (Flux: at least one variable enables it)
    assert substitute_objects(objs, {}) == objs


def test_substitute_objects_names_the_object_on_error() -> None:
    objs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace":
                                                                    "ns"}, "data": {"k": "${x"}}]
    with pytest.raises(SubstitutionError, match="post build failed for 'ConfigMap/ns/c'"):
        substitute_objects(objs, {"y": "1"})
