"""``select_latest``: Flux's ImagePolicy evaluation, behaviour by behaviour.

Case ids cite their source:
``seed`` -- the scenario (``seeds/000_*.txt``: ``master-<8 hex>-<unix ts>`` tags, pattern
``^master-[a-f0-9]+-(?P<ts>[0-9]+)``, extract ``$ts``, numerical asc);
``flux-db-order`` -- image-reflector-controller v1.2 ``sortTagsAndGetLatestTags``: the tag
database holds a scan's tags sorted descending bytewise, and every policy reads that order;
``flux-source:<file>`` -- read off the controller's source (``internal/policy/*.go``,
``internal/controller/imagepolicy_controller.go``) where no upstream test exists;
``flux-docs:<section>`` -- the ImagePolicy spec (``docs/spec/v1/imagepolicies.md``);
``go-atof_test`` -- Go ``strconv/atof_test.go`` (``atoftests``);
``issue-4``, ``issue-11`` -- this project's issues.
Flux's own test tables (``internal/policy/*_test.go``, the controller's policy tables) are
in ``flux_cases.yaml``, run by ``test_flux_tables.py``.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.services.policy_evaluator.policy import (
    REASON_FAILURE,
    REASON_INVALID_POLICY,
    compile_filter,
    compile_policy,
    go_parse_float,
    select_latest,
)
from conveyor.shared.errors import DependencyNotReady, InvalidSpec, TransientError
from tests.policy.flux_reference import flux_select

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


def failure(tags: list[str], policy: dict[str, Any], filt: dict[str, Any] | None = None) -> str:
    """The message of the ``Failure`` that ``select_latest`` raises (Flux: retried)."""
    with pytest.raises(TransientError) as info:
        select_latest(tags, policy, filt)
    assert info.value.reason == REASON_FAILURE
    assert not isinstance(info.value, DependencyNotReady)
    return str(info.value)


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


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param(
            ["master-aaaa1111-1700000000", "master-bbbb2222-1700000000"], id="registry-order"
        ),
        pytest.param(
            ["master-bbbb2222-1700000000", "master-aaaa1111-1700000000"], id="pushed-order"
        ),
    ],
)
def test_seed_two_builds_in_one_second(tags: list[str]) -> None:
    """issue-11 / flux-db-order: both extract ``1700000000``; Flux fills its map[value]tag in
    descending order, so the value keeps the last, bytewise-least, tag."""
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == "master-aaaa1111-1700000000"
    assert select_latest([*tags, "master-0000ffff-1699999999"], NUMERICAL_ASC, SEED_FILTER) == (
        "master-aaaa1111-1700000000"
    )


def test_seed_policy_on_a_large_shuffled_list() -> None:
    tags = seed_tags(20_000)
    master = [t for t in tags if t.startswith("master-")]
    newest = max(int(t.rsplit("-", 1)[1]) for t in master)
    expected = min(t for t in master if int(t.rsplit("-", 1)[1]) == newest)
    newest_other = max((t for t in tags if not t.startswith("master-")), key=lambda t: t[-10:])
    assert int(newest_other[-10:]) > 0  # the list really has other branches
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == expected
    random.Random(1).shuffle(tags)
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == expected
    assert flux_select(tags, NUMERICAL_ASC, SEED_FILTER) == expected


def test_seed_policy_ignores_trailing_text_after_the_timestamp() -> None:
    """The seed's pattern is anchored only at the start: ``-1640370014-arm64`` still matches,
    and ``$ts`` is just the digits."""
    tags = ["master-aaaaaaaa-1640370014-arm64", "master-bbbbbbbb-1640370013"]
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == "master-aaaaaaaa-1640370014-arm64"


# --------------------------------------------------------------------------- numerical


@pytest.mark.parametrize(
    ("order", "tags", "expected"),
    [
        pytest.param("asc", ["1", "1.0", "01", "1e0"], "01", id="flux-db-order:tie-is-least"),
        pytest.param("desc", ["2", "0x1p1", "2.0"], "0x1p1", id="flux-db-order:tie-desc"),
        pytest.param(
            "asc",
            ["9007199254740993", "9007199254740992"],
            "9007199254740992",
            id="flux-source:numerical:float64-equal-least-wins",
        ),
        pytest.param("asc", ["1_000", "999"], "1_000", id="go-atof:underscores"),
        pytest.param("asc", ["0x10p0", "15"], "0x10p0", id="go-atof:hex-float"),
        pytest.param("asc", ["inf", "1e308"], "inf", id="go-atof:inf"),
        pytest.param("desc", ["-inf", "-1e308"], "-inf", id="go-atof:-inf"),
        # NaN is a number for ParseFloat, and compares false: in descending bytewise order
        # ("NaN" before digits) it is replaced by whatever follows it.
        pytest.param("asc", ["NaN", "1", "2"], "2", id="flux-db-order:nan-then-numbers"),
        pytest.param("asc", ["1", "NaN"], "1", id="flux-db-order:nan-first-in-order"),
        pytest.param("asc", ["5", "nan", "3"], "5", id="flux-db-order:nan-sorts-first"),
        pytest.param("asc", ["5", "NaN", "Inf"], "Inf", id="flux-db-order:nan-then-inf"),
        pytest.param("desc", ["5", "NaN", "Inf"], "5", id="flux-db-order:nan-then-inf-desc"),
        pytest.param("asc", ["-0", "0"], "-0", id="flux-db-order:signed-zero-tie"),
        pytest.param(
            "asc",
            ["1640000000", "1700000000", "170000000"],
            "1700000000",
            id="flux-source:numerical:digits-of-several-widths",
        ),
        pytest.param(
            "asc",
            ["1" * 20, "0" + "1" * 20, "2"],
            "0" + "1" * 20,
            id="flux-db-order:wide-digit-tie",
        ),
    ],
)
def test_numerical(order: str, tags: list[str], expected: str) -> None:
    policy = {"numerical": {"order": order}}
    assert select_latest(tags, policy) == expected
    assert select_latest(tags[::-1], policy) == expected  # Flux sorts first
    assert flux_select(tags, policy) == expected


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        pytest.param(["1", "latest"], "latest", id="issue-4:non-number-is-an-error"),
        pytest.param(["1", "1e400"], "1e400", id="go-atof:range-error"),
        pytest.param(["1", " 2"], " 2", id="go-atof:no-spaces"),
        pytest.param(["1", "١٢"], "١٢", id="go-atof:ascii-digits-only"),
        pytest.param(["1", ""], "", id="go-atof:empty"),
        pytest.param(["a", "1", "b"], "b", id="flux-db-order:first-non-number-in-order"),
    ],
)
def test_numerical_non_number_fails_the_policy(tags: list[str], named: str) -> None:
    """Flux: ``failed to parse invalid numeric value '%s'``, Ready=False ``Failure``,
    retried; the first value of the descending order that does not parse is named."""
    assert failure(tags, NUMERICAL_ASC) == f"failed to parse invalid numeric value '{named}'"


def test_numerical_error_message_is_bounded() -> None:
    message = failure(["1" * 100_000, "2"], NUMERICAL_ASC)  # 1e99999: ParseFloat ErrRange
    assert message.startswith("failed to parse invalid numeric value '1111")
    assert len(message) < 400


def test_numerical_error_names_the_extracted_value() -> None:
    message = failure(["v-1", "v-x"], NUMERICAL_ASC, {"pattern": "^v-(.*)$", "extract": "$1"})
    assert message == "failed to parse invalid numeric value 'x'"


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
    """The CRD's default, and Flux's for an empty order."""
    assert select_latest(["a", "c", "b"], {"alphabetical": {}}) == "c"
    assert select_latest(["a", "c", "b"], {"alphabetical": {"order": None}}) == "c"
    assert select_latest(["a", "c", "b"], {"alphabetical": {"order": ""}}) == "c"
    assert select_latest(["1", "3", "2"], {"numerical": {}}) == "3"


def test_order_is_upper_cased_as_flux_does() -> None:
    """flux-source:factory.go: ``strings.ToUpper(order)`` (the CRD's enum is lowercase; the
    models refuse other spellings before the policy is compiled)."""
    assert select_latest(["a", "c", "b"], {"alphabetical": {"order": "Desc"}}) == "a"
    assert select_latest(["1", "3", "2"], {"numerical": {"order": "DESC"}}) == "1"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param(
            ["RELEASE.2024-01-02T10-00-00Z", "RELEASE.2023-12-31T23-59-59Z", "latest"],
            "RELEASE.2024-01-02T10-00-00Z",
            id="flux-docs:alphabetical:minio-RELEASE",
        ),
        pytest.param(
            ["RELEASE.2024-01-02T10-00-00Z", "RELEASE.2024-01-02T10-00-00ZZ"],
            "RELEASE.2024-01-02T10-00-00Z",
            id="flux-db-order:same-value-least-tag",
        ),
    ],
)
def test_alphabetical_with_extract(tags: list[str], expected: str) -> None:
    filt = {"pattern": r"^RELEASE\.(?P<timestamp>.*?)Z+$", "extract": "$timestamp"}
    assert select_latest(tags, {"alphabetical": {"order": "asc"}}, filt) == expected


# --------------------------------------------------------------------------------- semver


@pytest.mark.parametrize(
    ("rng", "tags", "filt", "expected"),
    [
        pytest.param(
            "^1.x-0",
            ["1.2.0-rc.1", "1.3.0-rc.2", "1.4.0", "2.0.0-rc.1"],
            {"pattern": ".*-rc.*"},
            "1.3.0-rc.2",
            id="flux-docs:filterTags:release-candidates",
        ),
        pytest.param(
            ">=2025.1.0",
            ["v2025.02.03", "v2025.10.01", "v2025.9.30"],
            None,
            "v2025.10.01",
            id="issue-11:zero-padded-calver",
        ),
        pytest.param(
            ">=1.0.0", ["01.2.3", "1.2.2"], None, "01.2.3", id="issue-11:leading-zero-major"
        ),
        pytest.param(
            ">=1.0.0", ["v1.2.3", "1.2.4", "v1.2.5"], None, "v1.2.5", id="issue-4:leading-v"
        ),
        pytest.param(
            ">=1.0.0", ["1.2", "1.3", "1.1.0"], None, "1.1.0", id="fluxpkg-version:no-partials"
        ),
        pytest.param(
            ">=1.0.0-0",
            ["1.2-rc.1", "1.1.0"],
            None,
            "1.2-rc.1",
            id="fluxpkg-version:dotted-pre-release-completes-three-parts",
        ),
        pytest.param(
            ">=1.0.0",
            ["1.0.0", "v1.0.0", "1.0.0+build.2"],
            None,
            "v1.0.0",
            id="flux-db-order:tie-greatest-tag",
        ),
        pytest.param(
            ">=1.0.0",
            ["v1.0.0", "1.0.0+build.2", "1.0.0"],
            None,
            "v1.0.0",
            id="flux-db-order:tie-greatest-tag-reordered",
        ),
        pytest.param(
            ">=1.0.0",
            ["app-1.0.0", "app-v1.0.0"],
            {"pattern": "^app-(.*)$", "extract": "$1"},
            "app-v1.0.0",
            id="flux-source:filter.go:tie-between-values-in-descending-order",
        ),
        pytest.param(
            ">=1.0.0",
            ["b-1.0.0", "a-1.0.0"],
            {"pattern": "^.-(.*)$", "extract": "$1"},
            "a-1.0.0",
            id="flux-db-order:same-value-least-tag",
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
    policy = {"semver": {"range": rng}}
    assert select_latest(tags, policy, filt) == expected
    assert select_latest(tags[::-1], policy, filt) == expected  # Flux sorts first
    assert flux_select(tags, policy, filt) == expected


def test_semver_no_tag_in_range() -> None:
    message = failure(["1.2.0", "latest"], {"semver": {"range": "1.0.x"}})
    assert message == "unable to determine latest version from provided list"


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("policy", "filt", "message"),
    [
        pytest.param(
            {},
            None,
            "invalid policy: given ImagePolicyChoice object is invalid",
            id="flux-source:factory.go:no-policy",
        ),
        pytest.param(
            {"numerical": {"order": "up"}},
            None,
            "invalid policy: invalid order argument provided: 'UP', must be one of: ASC, DESC",
            id="flux-source:numerical.go:invalid-order",
        ),
        pytest.param(
            {"alphabetical": {"order": "sideways"}},
            None,
            "invalid policy: invalid order argument provided: 'SIDEWAYS', must be one of: "
            "ASC, DESC",
            id="flux-source:alphabetical.go:invalid-order",
        ),
        pytest.param(
            {"semver": {"range": "*-*"}},
            None,
            'invalid policy: improper constraint: "*-*"',
            id="mm-3.5:improper-constraint-%q",
        ),
        pytest.param(
            {"semver": {"range": "1x"}},
            None,
            "invalid policy: constraint parser error",
            id="mm-source:constraint-parser-error",
        ),
        pytest.param(
            {"semver": {"range": ""}},
            None,
            'invalid policy: improper constraint: ""',
            id="mm-source:empty-range",
        ),
        pytest.param(
            {"semver": {"range": ">=1.0.0 || " * 50}},
            None,
            "invalid policy: constraint string is too long (max 512 bytes)",
            id="mm-3.5:MaxConstraintLen",
        ),
        pytest.param(
            NUMERICAL_ASC,
            {"pattern": "^test-(.*", "extract": "$1"},
            "failed to filter tags: invalid regular expression pattern '^test-(.*': ",
            id="flux-source:filter.go:invalid-regex",
        ),
        pytest.param(
            NUMERICAL_ASC,
            {"pattern": "(?P<é>x)"},
            "failed to filter tags: invalid regular expression pattern '(?P<é>x)': "
            "invalid named capture",
            id="go-syntax:isValidCaptureName",
        ),
    ],
)
def test_invalid_policy(policy: dict[str, Any], filt: dict[str, Any] | None, message: str) -> None:
    """Flux: ``InvalidPolicy``, Stalled, not retried; its message."""
    with pytest.raises(InvalidSpec) as info:
        select_latest(["1.0.0"], policy, filt)
    assert info.value.reason == REASON_INVALID_POLICY
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("policy", "filt", "field"),
    [
        pytest.param({"semver": {}}, None, "spec.policy.semver.range", id="crd:range-required"),
        pytest.param(
            {"semver": {"range": 1}}, None, "spec.policy.semver.range", id="crd:range-string"
        ),
        pytest.param({"semverr": {"range": "1"}}, None, "spec.policy", id="crd:unknown-kind"),
        pytest.param(
            NUMERICAL_ASC, {"pattern": "x", "extarct": "$1"}, "spec.filterTags", id="crd:typo"
        ),
    ],
)
def test_shapes_the_api_server_refuses(
    policy: dict[str, Any], filt: dict[str, Any] | None, field: str
) -> None:
    with pytest.raises(InvalidSpec) as info:
        select_latest(["1.0.0"], policy, filt)
    assert info.value.reason == REASON_INVALID_POLICY
    assert str(info.value).startswith(f"{field}: ")


def test_the_first_policy_kind_set_is_used() -> None:
    """flux-source:factory.go: PolicerFromSpec takes semver, then alphabetical, then numerical
    (the CRD does not forbid setting several)."""
    both = {"numerical": {"order": "asc"}, "semver": {"range": ">=1.0.0"}}
    assert select_latest(["1.0.0", "2.0.0", "3"], both) == "2.0.0"
    two = {"numerical": {"order": "asc"}, "alphabetical": {"order": "desc"}}
    assert select_latest(["10", "9"], two) == "10"


def test_checks_run_in_fluxs_order() -> None:
    """flux-source:imagepolicy_controller.go applyPolicy: the policy, then the tags (none:
    DependencyNotReady), then the filter."""
    with pytest.raises(InvalidSpec):
        select_latest([], {"semver": {"range": "*-*"}}, {"pattern": "("})
    with pytest.raises(DependencyNotReady, match=r"^no tags in database$"):
        select_latest([], NUMERICAL_ASC, {"pattern": "("})
    with pytest.raises(InvalidSpec, match="failed to filter tags"):
        select_latest(["1"], NUMERICAL_ASC, {"pattern": "("})


def test_a_filter_that_keeps_nothing_fails_as_an_empty_list() -> None:
    """flux-source: the policy gets the filter's empty Items(); each Latest() refuses []."""
    tags = [f"dev-{i:08x}-{1_600_000_000 + i}" for i in range(100_000)]
    assert failure(tags, NUMERICAL_ASC, SEED_FILTER) == "version list argument cannot be empty"


def test_hostile_pattern_is_answered() -> None:
    """RE2: ``(a+)+$`` over 50,000 ``a`` and a ``!`` does not backtrack (the suite's timeout
    bounds the run)."""
    tags = ["a" * 50_000 + "!", "1"]
    message = failure(tags, NUMERICAL_ASC, {"pattern": "(a+)+$"})
    assert message == "version list argument cannot be empty"


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
            "b-1",
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
            "b-1",
            id="go-regexp:Expand:$$-is-literal",
        ),
        pytest.param(
            {"pattern": r"^b-(\d+)"},
            {"alphabetical": {}},
            "b-2",
            id="flux-source:filter.go:no-extract-ranks-the-tag",
        ),
    ],
)
def test_extract_forms(filt: dict[str, str], policy: dict[str, Any], expected: str) -> None:
    """issue-4: the extracted value is ranked, the original tag is returned. With the same
    value for every tag (``$10``, ``$$``), Flux's map keeps the last tag of the descending
    order: the least."""
    tags = ["a-9", "b-1", "b-2", "b-10x"]
    assert select_latest(tags, policy, filt) == expected
    assert flux_select(tags, policy, filt) == expected


def test_compiled_policy_rejects_an_empty_list() -> None:
    """flux-*_test:Empty version list -- every Latest() errors on []."""
    specs: list[dict[str, Any]] = [{"semver": {"range": "*"}}, NUMERICAL_ASC, {"alphabetical": {}}]
    for spec in specs:
        with pytest.raises(TransientError, match=r"^version list argument cannot be empty$") as i:
            compile_policy(spec).latest([])
        assert i.value.reason == REASON_FAILURE


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
            st.sampled_from(["master", "dev"]), st.integers(0, 2**32 - 1), st.integers(0, 40)
        ),
        min_size=1,
        max_size=40,
    ),
    st.randoms(),
)
def test_seed_policy_property(builds: list[tuple[str, int, int]], rnd: random.Random) -> None:
    """Timestamps repeat (several builds a second): the newest second's least tag."""
    tags = list(dict.fromkeys(f"{b}-{sha:08x}-{1_700_000_000 + ts}" for b, sha, ts in builds))
    rnd.shuffle(tags)
    master = [t for t in tags if t.startswith("master-")]
    if not master:
        assert failure(tags, NUMERICAL_ASC, SEED_FILTER) == "version list argument cannot be empty"
        return
    newest = max(int(t[-10:]) for t in master)
    expected = min(t for t in master if int(t[-10:]) == newest)
    assert select_latest(tags, NUMERICAL_ASC, SEED_FILTER) == expected


_TAG_ALPHABET = "v0123.-+rcab"
_FILTERS: list[dict[str, str] | None] = [
    None,
    {"pattern": "^(v?)(.*)$", "extract": "$2"},  # v1.0.0 and 1.0.0 rank alike
    {"pattern": "^[a-z]*-?([0-9].*)$", "extract": "$1"},
    {"pattern": "([0-9])", "extract": "$1"},
    {"pattern": "r"},
]
_POLICIES: list[dict[str, Any]] = [
    {"semver": {"range": ">=0.0.0-0"}},
    {"semver": {"range": ">=1.0.0 <3"}},
    {"alphabetical": {}},
    {"alphabetical": {"order": "desc"}},
    NUMERICAL_ASC,
    {"numerical": {"order": "desc"}},
]


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(
        st.text(alphabet=_TAG_ALPHABET, max_size=10)
        | st.sampled_from(["1", "1.0", "01", "-0", "0", "NaN", "inf", "2e0", "v1.0.0", "1.0.0"]),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(_POLICIES),
    st.sampled_from(_FILTERS),
    st.randoms(),
)
def test_matches_fluxs_code_on_the_sorted_list(
    tags: list[str],
    policy: dict[str, Any],
    filt: dict[str, str] | None,
    rnd: random.Random,
) -> None:
    """Against ``flux_select``: Flux's code, transcribed, run on the tag list sorted as Flux's
    database holds it (and the filter's map keys in descending order too). Same tag, or the
    same failure, in any input order."""
    try:
        expected: str | None = flux_select(tags, policy, filt)
    except ValueError as exc:
        expected, message = None, str(exc)
    shuffled = tags[:]
    rnd.shuffle(shuffled)
    if expected is not None:
        assert select_latest(shuffled, policy, filt) == expected
    else:
        assert failure(shuffled, policy, filt) == message
