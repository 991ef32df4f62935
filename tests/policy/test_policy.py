"""``select_latest``: Flux's ImagePolicy evaluation, behaviour by behaviour.

Case ids cite their source:
``seed`` -- the scenario (``seeds/000_*.txt``: ``master-<8 hex>-<unix ts>`` tags, pattern
``^master-[a-f0-9]+-(?P<ts>[0-9]+)``, extract ``$ts``, numerical asc);
``flux-<file>:<case>`` -- image-reflector-controller tests (``internal/policy/*_test.go``,
``internal/controller/policy_test.go``);
``flux-docs:<section>`` -- the ImagePolicy spec (``docs/spec/v1/imagepolicies.md``);
``flux-source:<file>`` -- read off the controller's source where no upstream test exists;
``go-atof_test`` -- Go ``strconv/atof_test.go`` (``atoftests``);
``issue-4`` -- this project's issue.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.services.policy_evaluator.policy import (
    REASON_NO_MATCHING_TAG,
    REASON_NO_TAGS,
    REASON_NON_NUMERIC_TAG,
    compile_filter,
    compile_policy,
    go_parse_float,
    select_latest,
)
from conveyor.shared.errors import InvalidSpec, PermanentError

SEED_FILTER = {"pattern": "^master-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"}
NUMERICAL_ASC = {"numerical": {"order": "asc"}}


def seed_tags(n: int, *, seed: int = 4) -> list[str]:
    """``<branch>-<sha8>-<ts>`` tags as the seed's CI builds them, other branches mixed in."""
    rnd = random.Random(seed)
    branches = ["master", "master", "dev", "feature-x"]
    return [
        f"{rnd.choice(branches)}-{rnd.getrandbits(32):08x}-{1_640_000_000 + rnd.randrange(10**7)}"
        for _ in range(n)
    ]


# ------------------------------------------------------------------------------ the seed


def test_seed_policy_picks_newest_master_build() -> None:
    tags = [
        "latest",
        "master-a8158c7c-1640370014",
        "master-0b8e1f2a-1640380000",
        "dev-ffffffff-1999999999",  # newer, but another branch
        "feature-x-12345678-1888888888",
        "master-c0ffee00-1640379999",
        "mastermind-00000000-1777777777",  # not "master-"
    ]
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == "master-0b8e1f2a-1640380000"


def test_seed_policy_on_a_large_shuffled_list() -> None:
    tags = seed_tags(20_000)
    master = [t for t in tags if t.startswith("master-")]
    expected = max(master, key=lambda t: int(t.rsplit("-", 1)[1]))
    newest_other = max((t for t in tags if not t.startswith("master-")), key=lambda t: t[-10:])
    assert int(newest_other[-10:]) > 0  # the list really has other branches
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == expected
    random.Random(1).shuffle(tags)
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == expected


def test_seed_policy_ignores_trailing_text_after_the_timestamp() -> None:
    """The seed's pattern is anchored only at the start: ``-1640370014-arm64`` still matches,
    and ``$ts`` is just the digits."""
    tags = ["master-aaaaaaaa-1640370014-arm64", "master-bbbbbbbb-1640370013"]
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == "master-aaaaaaaa-1640370014-arm64"


# --------------------------------------------------------------------------- numerical


@pytest.mark.parametrize(
    ("order", "tags", "expected"),
    [
        pytest.param(
            "asc",
            ["-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"],
            "73",
            id="flux-numerical_test:integers-asc",
        ),
        pytest.param(
            "desc",
            ["5", "-8", "-78", "25", "70", "-4", "80", "92", "-20", "-24"],
            "-78",
            id="flux-numerical_test:integers-desc",
        ),
        pytest.param(
            "asc",
            ["47.40896403322944", "-27.8520927455902", "53.47333823144817", "3.2008658570411086"],
            "53.47333823144817",
            id="flux-numerical_test:floats-asc",
        ),
        pytest.param(
            "desc",
            ["-65.27202780220686", "57.82948329142309", "-90.29082099756083"],
            "-90.29082099756083",
            id="flux-numerical_test:floats-desc",
        ),
        pytest.param(
            "asc",
            ["1606234201", "1606364286", "1606334092", "1606334284", "1606334201"],
            "1606364286",
            id="flux-numerical_test:timestamps-asc",
        ),
        pytest.param(
            "desc",
            ["1606234201", "1606364286", "1606334092", "1606334284", "1606334201"],
            "1606234201",
            id="flux-numerical_test:timestamps-desc",
        ),
        pytest.param("asc", ["1"], "1", id="flux-numerical_test:single-asc"),
        pytest.param("desc", ["1"], "1", id="flux-numerical_test:single-desc"),
        pytest.param("asc", ["1", "1.0", "01", "1e0"], "1e0", id="flux-source:numerical:tie-last"),
        pytest.param(
            "desc", ["2", "0x1p1", "2.0"], "2.0", id="flux-source:numerical:tie-last-desc"
        ),
        pytest.param(
            "asc",
            ["9007199254740993", "9007199254740992"],
            "9007199254740992",
            id="flux-source:numerical:float64-equal-last-wins",
        ),
        pytest.param("asc", ["1_000", "999"], "1_000", id="go-atof:underscores"),
        pytest.param("asc", ["0x10p0", "15"], "0x10p0", id="go-atof:hex-float"),
        pytest.param("asc", ["inf", "1e308"], "inf", id="go-atof:inf"),
        pytest.param("asc", ["NaN", "1", "2"], "2", id="flux-source:numerical:nan-then-numbers"),
        pytest.param("asc", ["1", "NaN"], "NaN", id="flux-source:numerical:nan-last-wins"),
        pytest.param("asc", ["-0", "0"], "0", id="flux-source:numerical:signed-zero-tie"),
    ],
)
def test_numerical(order: str, tags: list[str], expected: str) -> None:
    policy = {"numerical": {"order": order}}
    assert select_latest(tags, policy) == expected
    assert select_latest(list(reversed(tags)), policy) in tags


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param(["0", "1a", "b"], id="flux-numerical_test:invalid-value"),
        pytest.param(["1", "latest"], id="issue-4:non-number-is-an-error"),
        pytest.param(["1", "1e400"], id="go-atof:range-error"),
        pytest.param(["1", " 2"], id="go-atof:no-spaces"),
        pytest.param(["1", "١٢"], id="go-atof:ascii-digits-only"),
        pytest.param(["1", ""], id="go-atof:empty"),
    ],
)
def test_numerical_non_number_fails_the_policy(tags: list[str]) -> None:
    with pytest.raises(PermanentError) as info:
        select_latest(tags, NUMERICAL_ASC)
    assert info.value.reason == REASON_NON_NUMERIC_TAG
    assert "failed to parse invalid numeric value" in str(info.value)
    assert not isinstance(info.value, InvalidSpec)


def test_numerical_error_message_is_bounded() -> None:
    with pytest.raises(PermanentError) as info:
        select_latest(["1" * 100_000, "2"], NUMERICAL_ASC)  # 1e99999: ParseFloat ErrRange
    assert info.value.reason == REASON_NON_NUMERIC_TAG
    assert len(str(info.value)) < 400


def test_numerical_error_names_the_original_tag_after_extract() -> None:
    with pytest.raises(PermanentError, match=r"'x' \(extracted from tag 'v-x'\)"):
        select_latest(["v-1", "v-x"], NUMERICAL_ASC, {"pattern": "^v-(.*)$", "extract": "$1"})


ATOF = [
    ("", None),
    ("1", 1.0),
    ("+1", 1.0),
    ("1x", None),
    ("1.1.", None),
    ("1e23", 1e23),
    ("1E23", 1e23),
    ("100000000000000000000000", 1e23),
    ("1e-100", 1e-100),
    ("123456700", 1.234567e08),
    ("99999999999999974834176", 9.999999999999997e22),
    ("100000000000000000000001", 1.0000000000000001e23),
    ("100000000000000008388608", 1.0000000000000001e23),
    ("100000000000000016777215", 1.0000000000000001e23),
    ("100000000000000016777216", 1.0000000000000003e23),
    ("-1", -1.0),
    ("-0.1", -0.1),
    ("-0", -0.0),
    ("1e-20", 1e-20),
    ("625e-3", 0.625),
    ("0x1p0", 1.0),
    ("0x1p1", 2.0),
    ("0x1p-1", 0.5),
    ("0x1ep-1", 15.0),
    ("-0x1ep-1", -15.0),
    ("-0x1_ep-1", -15.0),
    ("0x1p-200", 6.223015277861142e-61),
    ("0x1p200", 1.6069380442589903e60),
    ("0x1fFe2.p0", 131042.0),
    ("0x1fFe2.P0", 131042.0),
    ("-0x2p3", -16.0),
    ("0x0.fp4", 15.0),
    ("0x0.fp0", 0.9375),
    ("0x1e2", None),
    ("1p2", None),
    ("0", 0.0),
    ("0e0", 0.0),
    ("-0e0", -0.0),
    ("+0e0", 0.0),
    ("0e-0", 0.0),
    ("-0e+0", -0.0),
    ("0e+01234567890123456789", 0.0),
    ("0.00e-01234567890123456789", 0.0),
    ("-0e+01234567890123456789", -0.0),
    ("0x0p+01234567890123456789", 0.0),
    ("-0x0.00p-01234567890123456789", -0.0),
    ("0e291", 0.0),
    ("0e348", 0.0),
    ("0x0p1024", 0.0),
    ("nan", math.nan),
    ("NaN", math.nan),
    ("NAN", math.nan),
    ("inf", math.inf),
    ("-Inf", -math.inf),
    ("+INF", math.inf),
    ("-Infinity", -math.inf),
    ("+INFINITY", math.inf),
    ("Infinity", math.inf),
    ("1.7976931348623157e308", 1.7976931348623157e308),
    ("-1.7976931348623157e308", -1.7976931348623157e308),
    ("0x1.fffffffffffffp1023", 1.7976931348623157e308),
    ("0x1fffffffffffffp+971", 1.7976931348623157e308),
    ("0x.1fffffffffffffp1027", 1.7976931348623157e308),
    ("1.7976931348623159e308", None),
    ("-1.7976931348623159e308", None),
    ("0x1p1024", None),
    ("0x2p1023", None),
    ("0x.1p1028", None),
    ("1.7976931348623158e308", 1.7976931348623157e308),
    ("0x1.fffffffffffff7fffp1023", 1.7976931348623157e308),
    ("1.797693134862315808e308", None),
    ("0x1.fffffffffffff8p1023", None),
    ("1e308", 1e308),
    ("2e308", None),
    ("1e309", None),
    ("0x1p1025", None),
    ("1e310", None),
    ("-1e310", None),
    ("1e400", None),
    ("1e400000", None),
    ("0x1p2000000000", None),
    ("1e-305", 1e-305),
    ("1e-322", 1e-322),
    ("5e-324", 5e-324),
    ("4e-324", 5e-324),
    ("2e-324", 0.0),
    ("1e-350", 0.0),
    ("1e-400000", 0.0),
    ("0x1.fffffffffffff8p-1010", 1.8227805048890994e-304),
    ("0x0.00000003456788p-1022", 1.694649e-317),
    ("0x0.00000000000008p-1022", 0.0),
    ("1e-4294967296", 0.0),
    ("1e+4294967296", None),
    ("1e-18446744073709551616", 0.0),
    ("0x1p-18446744073709551616", 0.0),
    ("0x1p+18446744073709551616", None),
    ("1e", None),
    ("1e-", None),
    (".e-1", None),
    ("1\x00.2", None),
    ("0x", None),
    ("0x.", None),
    ("0x1", None),
    ("0x.1", None),
    ("0x1p", None),
    ("0x1p+", None),
    ("0x.1p-", None),
    ("0x1p+2", 4.0),
    ("0x.1p+2", 0.25),
    ("0x1p-2", 0.25),
    ("0x.1p-2", 0.015625),
    ("2.2250738585072012e-308", 2.2250738585072014e-308),
    ("2.2250738585072011e-308", 2.225073858507201e-308),
    ("4.630813248087435e+307", 4.630813248087435e307),
    ("22.222222222222222", 22.22222222222222),
    ("2." + "2" * 4000 + "e+1", 22.22222222222222),
    ("0x2." + "2" * 4000 + "p221", 7.18931911124017e66),
    ("1.00000000000000011102230246251565404236316680908203125", 1.0),
    ("0x1.00000000000008p0", 1.0),
    ("1.00000000000000011102230246251565404236316680908203126", 1.0000000000000002),
    (
        "1.00000000000000011102230246251565404236316680908203125" + "0" * 10000 + "1",
        1.0000000000000002,
    ),
    ("0x1.00000000000018p0", 1.0000000000000004),
    ("1_23.50_0_0e+1_2", 1.235e14),
    ("-_123.5e+12", None),
    ("+_123.5e+12", None),
    ("_123.5e+12", None),
    ("1__23.5e+12", None),
    ("123_.5e+12", None),
    ("123._5e+12", None),
    ("123.5_e+12", None),
    ("123.5__0e+12", None),
    ("123.5e_+12", None),
    ("123.5e+_12", None),
    ("123.5e-_12", None),
    ("123.5e+1__2", None),
    ("123.5e+12_", None),
    ("0x_1_2.3_4_5p+1_2", 74565.0),
    ("-_0x12.345p+12", None),
    ("_0x12.345p+12", None),
    ("0x__12.345p+12", None),
    ("0x12_.345p+12", None),
    ("0x12._345p+12", None),
    ("0x12.345_p+12", None),
    ("0x12.345p_+12", None),
    ("0x12.345p+12_", None),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(t, e, id=f"go-atof_test:{t[:40]!r}") for t, e in ATOF]
    + [
        pytest.param(" 1", None, id="go-syntax:no-leading-space"),
        pytest.param("1 ", None, id="go-syntax:no-trailing-space"),
        pytest.param("+nan", None, id="go-atof:special:signed-nan"),
        pytest.param("infin", None, id="go-atof:special:partial-infinity"),
        pytest.param("١", None, id="go-atof:ascii-digits-only"),
        pytest.param("1.", 1.0, id="go-atof:trailing-dot"),
        pytest.param(".5", 0.5, id="go-atof:leading-dot"),
    ],
)
def test_go_parse_float(text: str, expected: float | None) -> None:
    got = go_parse_float(text)
    if expected is None:
        assert got is None
    elif math.isnan(expected):
        assert got is not None and math.isnan(got)
    else:
        assert got == expected
        assert got is not None and math.copysign(1, got) == math.copysign(1, expected)


# ---------------------------------------------------------------------------- alphabetical


@pytest.mark.parametrize(
    ("order", "tags", "expected"),
    [
        pytest.param(
            "asc",
            ["16.04", "16.04.1", "16.10", "20.04", "20.10"],
            "20.10",
            id="flux-alphabetical_test:ubuntu-calver",
        ),
        pytest.param(
            "desc",
            ["16.04", "16.04.1", "16.10", "20.04", "20.10"],
            "16.04",
            id="flux-alphabetical_test:ubuntu-calver-desc",
        ),
        pytest.param(
            "asc",
            ["xenial", "yakkety", "zesty", "artful", "bionic"],
            "zesty",
            id="flux-alphabetical_test:code-names",
        ),
        pytest.param(
            "desc",
            ["xenial", "yakkety", "zesty", "artful", "bionic"],
            "artful",
            id="flux-alphabetical_test:code-names-desc",
        ),
        pytest.param(
            "asc",
            ["rel-1606234201", "rel-1606364286", "rel-1606334092"],
            "rel-1606364286",
            id="flux-alphabetical_test:timestamps-with-prefix",
        ),
        pytest.param("asc", ["9", "10"], "9", id="flux-docs:alphabetical:lexical-not-numeric"),
        pytest.param("asc", ["Z", "a"], "a", id="flux-source:alphabetical:bytewise-case"),
        pytest.param("asc", ["é", "z", "ÿ"], "ÿ", id="flux-source:alphabetical:utf8-bytes"),
        pytest.param("asc", ["a", "😀", "中"], "😀", id="flux-source:alphabetical:astral"),
    ],
)
def test_alphabetical(order: str, tags: list[str], expected: str) -> None:
    policy = {"alphabetical": {"order": order}}
    assert select_latest(tags, policy) == expected
    # Go's sort is bytewise on UTF-8; Python's code-point order must agree.
    ordered = sorted(tags, key=lambda t: t.encode())
    assert expected == (ordered[-1] if order == "asc" else ordered[0])


def test_alphabetical_default_order_is_asc() -> None:
    """flux-alphabetical_test:valid-empty-order / CRD default."""
    assert select_latest(["a", "c", "b"], {"alphabetical": {}}) == "c"
    assert select_latest(["a", "c", "b"], {"alphabetical": {"order": None}}) == "c"
    assert select_latest(["1", "3", "2"], {"numerical": {}}) == "3"


@pytest.mark.parametrize(
    ("tags", "pattern", "expected"),
    [
        pytest.param(
            ["RELEASE.2024-01-02T10-00-00Z", "RELEASE.2023-12-31T23-59-59Z", "latest"],
            r"^RELEASE\.(?P<timestamp>.*)Z$",
            "RELEASE.2024-01-02T10-00-00Z",
            id="flux-docs:alphabetical:minio-RELEASE",
        ),
    ],
)
def test_alphabetical_with_extract(tags: list[str], pattern: str, expected: str) -> None:
    filt = {"pattern": pattern, "extract": "$timestamp"}
    assert select_latest(tags, {"alphabetical": {"order": "asc"}}, filt) == expected


# --------------------------------------------------------------------------------- semver


@pytest.mark.parametrize(
    ("rng", "tags", "filt", "expected"),
    [
        pytest.param(
            "1.0.x",
            ["0.1.0", "0.1.1", "0.2.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0-alpha"],
            None,
            "1.0.2",
            id="flux-policy_test:calculateImageFromRepoTags:semver",
        ),
        pytest.param(
            ">=0.x",
            ["test-0.1.0", "test-0.1.1", "dev-0.2.0", "1.0.0", "1.0.1", "1.0.2", "1.1.0-alpha"],
            {"pattern": "^test-(.*)$", "extract": "$1"},
            "test-0.1.1",
            id="flux-policy_test:filterTags:valid-regex",
        ),
        pytest.param(
            "^1.x-0",
            ["1.2.0-rc.1", "1.3.0-rc.2", "1.4.0", "2.0.0-rc.1"],
            {"pattern": ".*-rc.*"},
            "1.3.0-rc.2",
            id="flux-docs:filterTags:release-candidates",
        ),
        pytest.param(
            ">=1.0.0", ["v1.2.3", "1.2.4", "v1.2.5"], None, "v1.2.5", id="issue-4:leading-v"
        ),
        pytest.param(
            ">=1.0.0", ["1.2", "1.3", "1.1.0"], None, "1.1.0", id="fluxpkg-version:no-partials"
        ),
        pytest.param(
            ">=1.0.0",
            ["1.0.0", "v1.0.0", "1.0.0+build.2"],
            None,
            "1.0.0",
            id="flux-semver.go:tie-first-tag-wins",
        ),
        pytest.param(
            ">=1.0.0",
            ["v1.0.0", "1.0.0", "1.0.0+build.2"],
            None,
            "v1.0.0",
            id="flux-semver.go:tie-first-tag-wins-reordered",
        ),
        pytest.param(
            ">=1.0.0",
            ["app-1.0.0", "app-v1.0.0"],
            {"pattern": "^app-(.*)$", "extract": "$1"},
            "app-1.0.0",
            id="flux-filter.go:tie-between-values-first-seen",
        ),
        pytest.param(
            ">=1.0.0",
            ["a-1.0.0", "b-1.0.0"],
            {"pattern": "^.-(.*)$", "extract": "$1"},
            "b-1.0.0",
            id="flux-filter.go:same-value-last-tag",
        ),
        pytest.param(
            ">=1.0.0 <2.0.0",
            ["1.9.0", "2.0.0", "1.10.0-rc.1", "1.10.0"],
            None,
            "1.10.0",
            id="issue-4:range-and",
        ),
        pytest.param(
            ">=1.0.0-0 <2.0.0",
            ["1.9.0", "1.10.0-rc.1", "1.2.0"],
            None,
            "1.10.0-rc.1",
            id="issue-4:-0-admits-prereleases",
        ),
        pytest.param(
            ">=1.0.0-0 <2.0.0",
            ["1.9.0", "1.10.0-rc.1", "2.0.0-rc.1"],
            None,
            "2.0.0-rc.1",
            id="mm-source:opted-in-<2.0.0-admits-2.0.0-rc.1",
        ),
        pytest.param(
            "~1.2.3 || ^3",
            ["1.2.9", "1.3.0", "3.9.9", "4.0.0"],
            None,
            "3.9.9",
            id="mm-constraints:or",
        ),
        pytest.param(
            "1.2 - 1.4.5", ["1.1.9", "1.4.5", "1.4.6"], None, "1.4.5", id="mm-constraints:hyphen"
        ),
    ],
)
def test_semver(rng: str, tags: list[str], filt: dict[str, str] | None, expected: str) -> None:
    assert select_latest(tags, {"semver": {"range": rng}}, filt) == expected


def test_semver_no_tag_in_range() -> None:
    with pytest.raises(PermanentError) as info:
        select_latest(["1.2.0", "latest"], {"semver": {"range": "1.0.x"}})
    assert info.value.reason == REASON_NO_MATCHING_TAG
    assert "1.0.x" in str(info.value)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("policy", "filt", "field", "detail"),
    [
        pytest.param({}, None, "spec.policy", "exactly one", id="flux-factory_test:no-policy"),
        pytest.param(
            {"semver": {"range": "1.x"}, "numerical": {"order": "asc"}},
            None,
            "spec.policy",
            "found: semver, numerical",
            id="issue-4:two-policies",
        ),
        pytest.param(
            {"numerical": {"order": "up"}},
            None,
            "spec.policy.numerical.order",
            "must be one of: asc, desc",
            id="flux-numerical_test:invalid-order",
        ),
        pytest.param(
            {"alphabetical": {"order": "ASC"}},
            None,
            "spec.policy.alphabetical.order",
            "must be one of",
            id="flux-crd:order-enum-is-lowercase",
        ),
        pytest.param(
            {"semver": {"range": "*-*"}},
            None,
            "spec.policy.semver.range",
            "improper constraint",
            id="flux-factory_test:invalid-range",
        ),
        pytest.param(
            {"semver": {"range": "1x"}},
            None,
            "spec.policy.semver.range",
            "constraint parser error",
            id="flux-semver_test:invalid-range-1x",
        ),
        pytest.param(
            {"semver": {}}, None, "spec.policy.semver.range", "required", id="flux-crd:range"
        ),
        pytest.param(
            {"semver": {"range": 1}},
            None,
            "spec.policy.semver.range",
            "string",
            id="flux-api:range-is-a-string",
        ),
        pytest.param(
            {"semverr": {"range": "1"}}, None, "spec.policy", "unknown", id="issue-4:typo"
        ),
        pytest.param(
            NUMERICAL_ASC,
            {"pattern": "^test-(.*", "extract": "$1"},
            "spec.filterTags.pattern",
            "invalid regular expression pattern",
            id="flux-policy_test:filterTags:invalid-regex",
        ),
        pytest.param(
            NUMERICAL_ASC,
            {"pattern": "(?P<é>x)"},
            "spec.filterTags.pattern",
            "invalid named capture",
            id="go-syntax:isValidCaptureName",
        ),
        pytest.param(
            NUMERICAL_ASC,
            {"pattern": "x", "extarct": "$1"},
            "spec.filterTags",
            "unknown",
            id="issue-4:filter-typo",
        ),
    ],
)
def test_invalid_spec(
    policy: dict[str, Any], filt: dict[str, Any] | None, field: str, detail: str
) -> None:
    with pytest.raises(InvalidSpec) as info:
        select_latest(["1.0.0"], policy, filt)
    message = str(info.value)
    assert message.startswith(f"{field}: ")
    assert detail in message


def test_invalid_spec_is_reported_even_without_tags() -> None:
    with pytest.raises(InvalidSpec):
        select_latest([], {"semver": {"range": "*-*"}})


def test_empty_tag_list() -> None:
    with pytest.raises(PermanentError) as info:
        select_latest([], NUMERICAL_ASC, SEED_FILTER)
    assert info.value.reason == REASON_NO_TAGS


def test_100k_non_matching_tags_fail_promptly() -> None:
    tags = [f"dev-{i:08x}-{1_600_000_000 + i}" for i in range(100_000)]
    start = time.perf_counter()
    with pytest.raises(PermanentError) as info:
        select_latest(tags, NUMERICAL_ASC, SEED_FILTER)
    assert info.value.reason == REASON_NO_MATCHING_TAG
    assert "100000" in str(info.value)
    assert time.perf_counter() - start < 5.0


def test_hostile_pattern_is_linear() -> None:
    tags = ["a" * 50_000 + "!", "1"]
    start = time.perf_counter()
    with pytest.raises(PermanentError) as info:
        select_latest(tags, NUMERICAL_ASC, {"pattern": "(a+)+$"})
    assert info.value.reason == REASON_NO_MATCHING_TAG
    assert time.perf_counter() - start < 2.0


def test_128_character_and_unicode_tags() -> None:
    long_tags = ["x" * 127 + c for c in "abc"]
    assert all(len(t) == 128 for t in long_tags)
    assert select_latest(long_tags, {"alphabetical": {}}) == "x" * 127 + "c"
    unicode_tags = ["café-1", "café-12", "cafe-99", "日本-7"]
    filt = {"pattern": r"^café-(?P<n>\d+)$", "extract": "$n"}
    assert select_latest(unicode_tags, NUMERICAL_ASC, filt) == "café-12"
    assert select_latest(
        unicode_tags, NUMERICAL_ASC, {"pattern": "^(.)本-(.)$", "extract": "$2"}
    ) == ("日本-7")


@pytest.mark.parametrize(
    ("filt", "policy", "expected"),
    [
        pytest.param(
            {"pattern": r"^b-(?P<n>\d+)", "extract": "$n"},
            NUMERICAL_ASC,
            "b-10x",
            id="go-regexp:Expand:$name",
        ),
        pytest.param(
            {"pattern": r"^b-(?P<n>\d+)", "extract": "${n}"},
            NUMERICAL_ASC,
            "b-10x",
            id="go-regexp:Expand:${name}",
        ),
        pytest.param(
            {"pattern": r"^b-(?<n>\d+)", "extract": "$n"},
            NUMERICAL_ASC,
            "b-10x",
            id="go-1.22-syntax:(?<name>)",
        ),
        pytest.param(
            {"pattern": r"^b-(\d+)", "extract": "$1"},
            NUMERICAL_ASC,
            "b-10x",
            id="go-regexp:Expand:$1",
        ),
        pytest.param(
            {"pattern": r"^b-(\d+)", "extract": "${1}0"},
            NUMERICAL_ASC,
            "b-10x",
            id="go-regexp:Expand:${1}0",
        ),
        pytest.param(
            {"pattern": r"^b-(\d+)", "extract": "$10"},
            {"alphabetical": {}},
            "b-10x",
            id="go-regexp:Expand:$10-unknown-group-is-empty",
        ),
        pytest.param(
            {"pattern": r"^b-(\d+)", "extract": "9$1"},
            {"alphabetical": {}},
            "b-2",
            id="go-regexp:Expand:literal-and-ref",
        ),
        pytest.param(
            {"pattern": r"^b-(\d+)", "extract": "$$"},
            {"alphabetical": {}},
            "b-10x",
            id="go-regexp:Expand:$$-is-literal",
        ),
        pytest.param(
            {"pattern": r"^b-(\d+)"},
            {"alphabetical": {}},
            "b-2",
            id="flux-filter.go:no-extract-ranks-the-tag",
        ),
    ],
)
def test_extract_forms(filt: dict[str, str], policy: dict[str, Any], expected: str) -> None:
    """issue-4: the extracted value is ranked, the original tag is returned. With the same
    value for every tag (``$10``, ``$$``), Flux's map keeps the last tag."""
    tags = ["a-9", "b-1", "b-2", "b-10x"]
    assert select_latest(tags, policy, filt) == expected


def test_compiled_policy_rejects_an_empty_list() -> None:
    """flux-*_test:Empty version list -- every Latest() errors on []."""
    specs: list[dict[str, Any]] = [{"semver": {"range": "*"}}, NUMERICAL_ASC, {"alphabetical": {}}]
    for spec in specs:
        with pytest.raises(PermanentError, match="cannot be empty") as info:
            compile_policy(spec).latest([])
        assert info.value.reason == REASON_NO_TAGS


def test_compiles_once() -> None:
    assert compile_policy({"semver": {"range": ">=1"}}) is compile_policy(
        {"semver": {"range": ">=1"}}
    )
    assert compile_filter(SEED_FILTER) is compile_filter(dict(SEED_FILTER))
    assert compile_filter({"pattern": "x"}) is compile_filter({"pattern": "x", "extract": None})


# ----------------------------------------------------------------------------- properties

_numbers = st.integers(-(10**12), 10**12)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(_numbers, min_size=1, max_size=40, unique=True), st.randoms())
def test_numerical_asc_is_max_desc_is_min(values: list[int], rnd: random.Random) -> None:
    tags = [str(v) for v in values]
    rnd.shuffle(tags)
    assert int(select_latest(tags, NUMERICAL_ASC)) == max(values)
    assert int(select_latest(tags, {"numerical": {"order": "desc"}})) == min(values)


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=30, unique=True), st.randoms()
)
def test_alphabetical_is_order_independent(tags: list[str], rnd: random.Random) -> None:
    shuffled = tags[:]
    rnd.shuffle(shuffled)
    assert select_latest(shuffled, {"alphabetical": {}}) == max(tags, key=lambda t: t.encode())
    assert select_latest(shuffled, {"alphabetical": {"order": "desc"}}) == min(
        tags, key=lambda t: t.encode()
    )


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["master", "dev"]), st.integers(0, 2**32 - 1), st.integers(0, 10**10)
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda t: t[2],
    ),
    st.randoms(),
)
def test_seed_policy_property(builds: list[tuple[str, int, int]], rnd: random.Random) -> None:
    tags = [f"{b}-{sha:08x}-{ts}" for b, sha, ts in builds]
    rnd.shuffle(tags)
    master = [(ts, f"{b}-{sha:08x}-{ts}") for b, sha, ts in builds if b == "master"]
    if not master:
        with pytest.raises(PermanentError):
            select_latest(tags, NUMERICAL_ASC, SEED_FILTER)
        return
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == max(master)[1]


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.text(alphabet="v0123.-+rcab", max_size=10), min_size=1, max_size=20))
def test_result_is_one_of_the_tags(tags: list[str]) -> None:
    policies: list[dict[str, Any]] = [{"semver": {"range": ">=0.0.0-0"}}, {"alphabetical": {}}]
    for policy in policies:
        try:
            assert select_latest(tags, policy) in tags
        except PermanentError as exc:
            assert exc.reason == REASON_NO_MATCHING_TAG
