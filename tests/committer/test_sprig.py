"""Sprig's functions as Flux registers them for commit messages (``sprig.HermeticTxtFuncMap``).

The rows of each family are Sprig's own documented examples (``docs/*.md`` of Sprig v3.3.0,
the version image-automation-controller builds with) and further cases of the same functions;
every expected output was produced by Go 1.26's text/template with Sprig v3.3.0's
``HermeticTxtFuncMap`` (and cast v1.8.0, semver v3.5.0, as Flux's module graph resolves them),
over the same template and an empty map as data.
"""

from __future__ import annotations

import pytest

from conveyor.services.git_committer import sprig
from conveyor.services.git_committer.govalues import MAX_OUTPUT_BYTES, MAX_VALUE_BYTES
from conveyor.services.git_committer.message import template_data
from conveyor.services.git_committer.template import MAX_STEPS, render, validate
from conveyor.shared.errors import InvalidSpec

# Sprig docs/strings.md
STRINGS = [
    pytest.param('{{ trim "   hello    " }}', "hello", id="trim"),
    pytest.param('{{ trimAll "$" "$5.00" }}', "5.00", id="trimAll"),
    pytest.param('{{ trimSuffix "-" "hello-" }}', "hello", id="trimSuffix"),
    pytest.param('{{ trimPrefix "-" "-hello" }}', "hello", id="trimPrefix"),
    pytest.param('{{ upper "hello" }}', "HELLO", id="upper"),
    pytest.param('{{ lower "HELLO" }}', "hello", id="lower"),
    pytest.param('{{ title "hello world" }}', "Hello World", id="title"),
    pytest.param('{{ untitle "Hello World" }}', "hello world", id="untitle"),
    pytest.param('{{ repeat 3 "hello" }}', "hellohellohello", id="repeat"),
    pytest.param('{{ substr 0 5 "hello world" }}', "hello", id="substr"),
    pytest.param('{{ nospace "hello w o r l d" }}', "helloworld", id="nospace"),
    pytest.param('{{ trunc 5 "hello world" }}', "hello", id="trunc"),
    pytest.param('{{ trunc -5 "hello world" }}', "world", id="trunc-negative"),
    pytest.param('{{ abbrev 5 "hello world" }}', "he...", id="abbrev"),
    pytest.param('{{ abbrevboth 5 10 "1234 5678 9123" }}', "...5678...", id="abbrevboth"),
    pytest.param('{{ initials "First Try" }}', "FT", id="initials"),
    pytest.param('{{ wrapWith 5 "\\t" "Hello World" }}', "Hello\tWorld", id="wrapWith"),
    pytest.param(
        '{{ wrap 10 "Hello World, how are you doing today" }}',
        "Hello\nWorld, how\nare you\ndoing\ntoday",
        id="wrap",
    ),
    pytest.param('{{ contains "cat" "catch" }}', "true", id="contains"),
    pytest.param('{{ hasPrefix "cat" "catch" }}', "true", id="hasPrefix"),
    pytest.param('{{ hasSuffix "cat" "catch" }}', "false", id="hasSuffix"),
    pytest.param(
        '{{ quote "a" 1 nil }} {{ squote "b" 2.5 }}',
        "\"a\" \"1\" 'b' '2.5'",
        id="quote-squote",
    ),
    pytest.param('{{ cat "hello" "beautiful" "world" }}', "hello beautiful world", id="cat"),
    pytest.param('{{ indent 4 "a\\nb" }}', "    a\n    b", id="indent"),
    pytest.param('{{ nindent 4 "a\\nb" }}', "\n    a\n    b", id="nindent"),
    pytest.param('{{ "I Am Henry VIII" | replace " " "-" }}', "I-Am-Henry-VIII", id="replace"),
    pytest.param(
        '{{ len (list 1) | plural "one anchovy" "many anchovies" }}',
        "one anchovy",
        id="plural",
    ),
    pytest.param(
        '{{ len (list 1 2) | plural "one anchovy" "many anchovies" }}',
        "many anchovies",
        id="plural-many",
    ),
    pytest.param('{{ snakecase "FirstName" }}', "first_name", id="snakecase"),
    pytest.param(
        ('{{ snakecase "HTTPServer" }} {{ snakecase "HTTP2xx" }} {{ snakecase "Bld4Floor" }}'),
        "http_server http_2xx bld4_floor",
        id="snakecase-words",
    ),
    pytest.param('{{ camelcase "http_server" }}', "HttpServer", id="camelcase"),
    pytest.param('{{ kebabcase "FirstName" }}', "first-name", id="kebabcase"),
    pytest.param('{{ swapcase "This Is A.Test" }}', "tHIS iS a.tEST", id="swapcase"),
    pytest.param(
        '{{ toString 1 }} {{ toString (list 1 "a") }} {{ toString nil }}',
        "1 [1 a] <nil>",
        id="toString",
    ),
    pytest.param(
        '{{ upper "straße" }} {{ lower "İ" }} {{ title "o\'neil" }}',
        "STRAßE i O'Neil",
        id="go-case-mapping",
    ),
    pytest.param('{{ trunc 2 "héllo" }}|{{ substr 0 3 "héllo" }}', "h�|hé", id="bytes-not-runes"),
]

# Sprig docs/strings.md
REGEX = [
    pytest.param(
        ('{{ regexMatch "^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\\\.[A-Za-z]{2,}$" "test@acme.com" }}'),
        "true",
        id="regexMatch",
    ),
    pytest.param('{{ regexFindAll "[2,4,6,8]" "123456789" -1 }}', "[2 4 6 8]", id="regexFindAll"),
    pytest.param('{{ regexFindAll "[2,4,6,8]" "123456789" 2 }}', "[2 4]", id="regexFindAll-n"),
    pytest.param('{{ regexFind "[a-zA-Z][1-9]" "abcd1234" }}', "d1", id="regexFind"),
    pytest.param(
        '{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}',
        "-W-xxW-",
        id="regexReplaceAll",
    ),
    pytest.param(
        '{{ regexReplaceAll "(?P<v>[0-9]+)" "v1 v22" "<$v>" }}',
        "v<1> v<22>",
        id="regexReplaceAll-named",
    ),
    pytest.param(
        '{{ regexReplaceAllLiteral "a(x*)b" "-ab-axxb-" "${1}" }}',
        "-${1}-${1}-",
        id="regexReplaceAllLiteral",
    ),
    pytest.param('{{ regexSplit "z+" "pizza" -1 }}', "[pi a]", id="regexSplit"),
    pytest.param('{{ regexSplit "a" "banana" 2 }}', "[b nana]", id="regexSplit-n"),
    pytest.param('{{ regexQuoteMeta "1.2.3" }}', "1\\.2\\.3", id="regexQuoteMeta"),
    pytest.param(
        (
            '{{ regexFindAll "a*" "baaab" -1 }}|{{ regexReplaceAll "a*" "baaab" "-" }}'
            '|{{ regexSplit "" "abc" -1 }}'
        ),
        "[ aaa ]|-b-b-|[a b c]",
        id="empty-matches",
    ),
    pytest.param('{{ regexReplaceAll "\\\\bv" "v1 nv2 v3" "" }}', "1 nv2 3", id="word-boundary"),
]

# Sprig docs/string_slice.md
STRING_SLICES = [
    pytest.param('{{ list "hello" "world" | join "_" }}', "hello_world", id="join"),
    pytest.param('{{ list 1 2 3 | join "+" }}', "1+2+3", id="join-numbers"),
    pytest.param('{{ splitList "$" "foo$bar$baz" }}', "[foo bar baz]", id="splitList"),
    pytest.param(
        '{{ $a := split "$" "foo$bar$baz" }}{{ $a._0 }} {{ $a }}',
        "foo map[_0:foo _1:bar _2:baz]",
        id="split",
    ),
    pytest.param('{{ $a := splitn "$" 2 "foo$bar$baz" }}{{ $a._1 }}', "bar$baz", id="splitn"),
    pytest.param('{{ list "b" "a" "C" 10 2 | sortAlpha }}', "[10 2 C a b]", id="sortAlpha"),
    pytest.param(
        "{{ $s := list 1 2 3 | toStrings }}{{ $s }} {{ typeOf $s }}",
        "[1 2 3] []string",
        id="toStrings",
    ),
]

# Sprig docs/integer_slice.md
INTEGER_SLICES = [
    pytest.param("{{ until 5 }}", "[0 1 2 3 4]", id="until"),
    pytest.param("{{ untilStep 3 6 2 }}", "[3 5]", id="untilStep"),
    pytest.param(
        (
            "{{ seq 5 }}|{{ seq -3 }}|{{ seq 0 2 }}|{{ seq 2 -2 }}|{{ seq 0 2 10 }}|{{ "
            "seq 0 -2 -5 }}"
        ),
        "1 2 3 4 5|1 0 -1 -2 -3|0 1 2|2 1 0 -1 -2|0 2 4 6 8 10|0 -2 -4",
        id="seq",
    ),
]

# Sprig docs/conversion.md
CONVERSION = [
    pytest.param('{{ atoi "42" }} {{ atoi "x" }}', "42 0", id="atoi"),
    pytest.param(
        ('{{ int64 "0x1F" }} {{ int "010" }} {{ float64 "1.5" }} {{ int 2.7 }} {{ int64 "1.0" }}'),
        "31 8 1.5 2 1",
        id="int64-int-float64",
    ),
    pytest.param('{{ toDecimal "0777" }}', "511", id="toDecimal"),
]

# Sprig docs/math.md
MATH = [
    pytest.param("{{ add 1 2 3 }}", "6", id="add"),
    pytest.param(
        "{{ add1 41 }} {{ sub 5 7 }} {{ div 7 2 }} {{ mod 7 2 }} {{ mul 2 3 4 }}",
        "42 -2 3 1 24",
        id="add1-sub-div-mod-mul",
    ),
    pytest.param("{{ max 1 2 3 }}", "3", id="max"),
    pytest.param("{{ min 1 2 3 }}", "1", id="min"),
    pytest.param("{{ floor 123.9999 }}", "123", id="floor"),
    pytest.param("{{ ceil 123.001 }}", "124", id="ceil"),
    pytest.param("{{ round 123.555555 3 }}", "123.556", id="round"),
    pytest.param(
        "{{ typeOf (add 1 2) }} {{ add 9223372036854775807 1 }} {{ div 7 -2 }}",
        "int64 -9223372036854775808 -3",
        id="int64-results",
    ),
    pytest.param('{{ add "1" 2.9 }}', "3", id="strings-are-numbers"),
]

# Sprig docs/mathf.md
MATHF = [
    pytest.param("{{ maxf 1 2.5 3 }}", "3", id="maxf"),
    pytest.param("{{ minf 1.5 2 3 }}", "1.5", id="minf"),
    pytest.param("{{ addf 1.5 2 2 }}", "5.5", id="addf"),
    pytest.param("{{ add1f 1.5 }}", "2.5", id="add1f"),
    pytest.param("{{ subf 7.5 2 3 }}", "2.5", id="subf"),
    pytest.param("{{ divf 10 2 4 }}", "1.25", id="divf"),
    pytest.param("{{ mulf 1.5 2 2 }}", "6", id="mulf"),
    pytest.param(
        "{{ addf 0.1 0.2 }} {{ divf 1 3 }} {{ mulf 1.1 3 }}",
        "0.3 0.3333333333333333 3.3",
        id="decimal-arithmetic",
    ),
]

# Sprig docs/defaults.md
DEFAULTS = [
    pytest.param(
        '{{ default "foo" .Bar }}|{{ default "foo" "" }}|{{ default "foo" "bar" }}',
        "foo|foo|bar",
        id="default",
    ),
    pytest.param(
        (
            '{{ empty "" }} {{ empty 0 }} {{ empty (list) }} {{ empty (dict) }} {{ empty '
            'false }} {{ empty "x" }}'
        ),
        "true true true true true false",
        id="empty",
    ),
    pytest.param("{{ coalesce 0 1 2 }}", "1", id="coalesce"),
    pytest.param(
        '{{ all 1 "x" true }} {{ all 1 "" }} {{ any 0 "" "x" }} {{ any 0 "" }}',
        "true false true false",
        id="all-any",
    ),
    pytest.param(
        '{{ ternary "foo" "bar" true }} {{ false | ternary "foo" "bar" }}',
        "foo bar",
        id="ternary",
    ),
    pytest.param(
        '{{ toJson (dict "a" 1 "b" (list "x" 2.5 nil true)) }}',
        '{"a":1,"b":["x",2.5,null,true]}',
        id="toJson",
    ),
    pytest.param(
        '{{ toPrettyJson (dict "a" 1 "b" (list "x")) }}',
        '{\n  "a": 1,\n  "b": [\n    "x"\n  ]\n}',
        id="toPrettyJson",
    ),
    pytest.param(
        '{{ toRawJson (dict "h" "<b>&") }} {{ toJson (dict "h" "<b>&") }}',
        '{"h":"<b>&"} {"h":"\\u003cb\\u003e\\u0026"}',
        id="toRawJson",
    ),
    pytest.param(
        (
            '{{ $j := fromJson "{\\"a\\": 1, \\"b\\": [2.5, \\"x\\"]}" }}{{ $j.a }} {{ '
            "$j.b }} {{ typeOf $j.a }}"
        ),
        "1 [2.5 x] float64",
        id="fromJson",
    ),
    pytest.param('{{ fromJson "nope" }}', "<no value>", id="fromJson-invalid"),
]

# Sprig docs/encoding.md
ENCODING = [
    pytest.param('{{ b64enc "Hello" }} {{ b64dec "SGVsbG8=" }}', "SGVsbG8= Hello", id="b64"),
    pytest.param('{{ b32enc "Hello" }} {{ b32dec "JBSWY3DP" }}', "JBSWY3DP Hello", id="b32"),
    pytest.param(
        '{{ b64dec "!!" }}',
        "illegal base64 data at input byte 0",
        id="b64dec-error-text",
    ),
]

# Sprig docs/lists.md
LISTS = [
    pytest.param("{{ $myList := list 1 2 3 4 5 }}{{ $myList }}", "[1 2 3 4 5]", id="list"),
    pytest.param("{{ $myList := list 1 2 3 4 5 }}{{ first $myList }}", "1", id="first"),
    pytest.param("{{ $myList := list 1 2 3 4 5 }}{{ rest $myList }}", "[2 3 4 5]", id="rest"),
    pytest.param("{{ $myList := list 1 2 3 4 5 }}{{ last $myList }}", "5", id="last"),
    pytest.param("{{ $myList := list 1 2 3 4 5 }}{{ initial $myList }}", "[1 2 3 4]", id="initial"),
    pytest.param(
        "{{ $myList := list 1 2 3 4 5 }}{{ append $myList 6 }}",
        "[1 2 3 4 5 6]",
        id="append",
    ),
    pytest.param(
        "{{ $myList := list 1 2 3 4 5 }}{{ prepend $myList 0 }}",
        "[0 1 2 3 4 5]",
        id="prepend",
    ),
    pytest.param(
        (
            "{{ $myList := list 1 2 3 4 5 }}{{ concat $myList ( list 6 7 ) ( list 8 ) }} "
            "{{ $myList }}"
        ),
        "[1 2 3 4 5 6 7 8] [1 2 3 4 5]",
        id="concat",
    ),
    pytest.param(
        "{{ $myList := list 1 2 3 4 5 }}{{ reverse $myList }}",
        "[5 4 3 2 1]",
        id="reverse",
    ),
    pytest.param("{{ list 1 1 1 2 | uniq }}", "[1 2]", id="uniq"),
    pytest.param(
        ("{{ $myList := list 1 2 3 4 5 }}{{ without $myList 3 }} {{ without $myList 1 3 5 }}"),
        "[1 2 4 5] [2 4]",
        id="without",
    ),
    pytest.param(
        '{{ $myList := list 1 2 3 4 5 }}{{ has 4 $myList }} {{ has "hello" $myList }}',
        "true false",
        id="has",
    ),
    pytest.param(
        '{{ $list := list 1 "a" "foo" "" }}{{ compact $list }}',
        "[1 a foo]",
        id="compact",
    ),
    pytest.param(
        (
            "{{ $myList := list 1 2 3 4 5 }}{{ slice $myList }} {{ slice $myList 3 }} {{ "
            "slice $myList 1 3 }} {{ slice $myList 0 3 }}"
        ),
        "[1 2 3 4 5] [4 5] [2 3] [1 2 3]",
        id="slice",
    ),
    pytest.param("{{ chunk 3 (list 1 2 3 4 5 6 7 8) }}", "[[1 2 3] [4 5 6] [7 8]]", id="chunk"),
]

# Sprig docs/dicts.md
DICTS = [
    pytest.param(
        (
            '{{ $myDict := dict "name1" "value1" "name2" "value2" "name3" "value 3" }}{{ '
            'get $myDict "name1" }}|{{ get $myDict "missing" }}'
        ),
        "value1|",
        id="get",
    ),
    pytest.param(
        (
            '{{ $myDict := dict "name1" "value1" "name2" "value2" "name3" "value 3" }}{{ '
            '$_ := set $myDict "name4" "value4" }}{{ $_ := unset $myDict "name1" }}{{ '
            "$myDict }}"
        ),
        "map[name2:value2 name3:value 3 name4:value4]",
        id="set-unset",
    ),
    pytest.param(
        (
            '{{ $myDict := dict "name1" "value1" "name2" "value2" "name3" "value 3" }}{{ '
            'hasKey $myDict "name1" }} {{ hasKey $myDict "nope" }}'
        ),
        "true false",
        id="hasKey",
    ),
    pytest.param(
        (
            '{{ $a := dict "name1" "value1" }}{{ $b := dict "name1" "otherValue1" }}{{ '
            'pluck "name1" $a $b }}'
        ),
        "[value1 otherValue1]",
        id="pluck",
    ),
    pytest.param(
        (
            '{{ $dict := dict "user" (dict "role" (dict "humanName" "admin")) }}{{ dig '
            '"user" "role" "humanName" "guest" $dict }} {{ dig "user" "nope" "guest" '
            "$dict }}"
        ),
        "admin guest",
        id="dig",
    ),
    pytest.param(
        (
            '{{ $dst := dict "default" "default" "overwrite" "me" "key" "true" }}{{ $src '
            ':= dict "overwrite" "overwritten" "key" "false" }}{{ merge $dst $src }}'
        ),
        "map[default:default key:true overwrite:me]",
        id="merge",
    ),
    pytest.param(
        (
            '{{ $dst := dict "default" "default" "overwrite" "me" "key" "true" }}{{ $src '
            ':= dict "overwrite" "overwritten" "key" "false" }}{{ mergeOverwrite $dst '
            "$src }}"
        ),
        "map[default:default key:false overwrite:overwritten]",
        id="mergeOverwrite",
    ),
    pytest.param(
        (
            '{{ merge (dict "a" (dict "x" 1) "e" "" "l" (list 1)) (dict "a" (dict "x" 2 '
            '"y" 3) "e" "filled" "l" (list 2)) }}'
        ),
        "map[a:map[x:1 y:3] e:filled l:[1]]",
        id="merge-deep",
    ),
    pytest.param(
        (
            '{{ $myDict := dict "name1" "value1" "name2" "value2" "name3" "value 3" }}{{ '
            "keys $myDict | sortAlpha }}"
        ),
        "[name1 name2 name3]",
        id="keys",
    ),
    pytest.param(
        (
            '{{ $myDict := dict "name1" "value1" "name2" "value2" "name3" "value 3" }}{{ '
            'pick $myDict "name1" "name2" }}'
        ),
        "map[name1:value1 name2:value2]",
        id="pick",
    ),
    pytest.param(
        (
            '{{ $myDict := dict "name1" "value1" "name2" "value2" "name3" "value 3" }}{{ '
            'omit $myDict "name1" "name3" }}'
        ),
        "map[name2:value2]",
        id="omit",
    ),
    pytest.param(
        (
            '{{ $myDict := dict "name1" "value1" "name2" "value2" "name3" "value 3" }}{{ '
            "values $myDict | sortAlpha }}"
        ),
        "[value 3 value1 value2]",
        id="values",
    ),
    pytest.param(
        (
            '{{ $a := dict "l" (list 1) }}{{ $b := deepCopy $a }}{{ $_ := set $b "x" 1 }}'
            "{{ $a }} {{ $b }}"
        ),
        "map[l:[1]] map[l:[1] x:1]",
        id="deepCopy",
    ),
    pytest.param('{{ dict "a" }} {{ dict 1 2 }}', "map[a:] map[1:2]", id="dict-odd"),
]

# Sprig docs/reflection.md
REFLECTION = [
    pytest.param('{{ kindOf "hello" }}', "string", id="kindOf"),
    pytest.param('{{ kindIs "int" 123 }}', "true", id="kindIs"),
    pytest.param(
        (
            "{{ typeOf 1 }} {{ typeOf 1.5 }} {{ typeOf (list) }} {{ typeOf (dict) }} {{ "
            'typeOf nil }} {{ typeOf (semver "1.2.3") }}'
        ),
        "int float64 []interface {} map[string]interface {} <nil> *semver.Version",
        id="typeOf",
    ),
    pytest.param(
        '{{ typeIs "string" "x" }} {{ typeIsLike "semver.Version" (semver "1.0.0") }}',
        "true true",
        id="typeIs-typeIsLike",
    ),
    pytest.param(
        "{{ deepEqual (list 1 2 3) (list 1 2 3) }} {{ deepEqual 1 (add 0 1) }}",
        "true false",
        id="deepEqual",
    ),
]

# Sprig docs/paths.md
PATHS = [
    pytest.param('{{ base "foo/bar/baz" }}', "baz", id="base"),
    pytest.param('{{ dir "foo/bar/baz" }}', "foo/bar", id="dir"),
    pytest.param('{{ clean "foo/bar/../baz" }}', "foo/baz", id="clean"),
    pytest.param('{{ ext "foo.bar" }}', ".bar", id="ext"),
    pytest.param(
        '{{ isAbs "/foo" }} {{ isAbs "foo" }} {{ osBase "/foo/bar/baz" }}',
        "true false baz",
        id="isAbs",
    ),
]

# Sprig docs/semver.md
SEMVER = [
    pytest.param(
        (
            '{{ $version := semver "1.2.3-alpha.1+123" }}{{ $version.Major }} {{ '
            "$version.Minor }} {{ $version.Patch }} {{ $version.Prerelease }} {{ "
            "$version.Metadata }} {{ $version.Original }}"
        ),
        "1 2 3 alpha.1 123 1.2.3-alpha.1+123",
        id="fields",
    ),
    pytest.param(
        (
            '{{ (semver "1.2.3").Compare (semver "1.2.3") }} {{ (semver "1.2.3").Compare '
            '(semver "1.2.4") }} {{ (semver "1.2.3").Compare (semver "1.2.2") }}'
        ),
        "0 -1 1",
        id="compare",
    ),
    pytest.param(
        (
            '{{ semverCompare "1.2.3" "1.2.3" }} {{ semverCompare "^1.2.0" "1.2.3" }} {{ '
            'semverCompare "^1.2.0" "2.2.3" }} {{ semverCompare "~1.2.0" "1.2.9" }}'
        ),
        "true true false true",
        id="semverCompare",
    ),
    pytest.param(
        (
            '{{ (semver "v1.2.3").IncPatch }} {{ (semver "1.2.3").IncMinor }} {{ (semver '
            '"1.2.3").IncMajor }}'
        ),
        "1.2.4 1.3.0 2.0.0",
        id="inc",
    ),
]

# Sprig docs/crypto.md
HASHES = [
    pytest.param(
        '{{ sha256sum "Hello world!" }}',
        "c0535e4be2b79ffd93291305436bf889314e4a3faec05ecffcbb7df31ad9e51a",
        id="sha256sum",
    ),
    pytest.param(
        '{{ sha1sum "Hello world!" }} {{ adler32sum "Hello world!" }}',
        "d3486ae9136e7856bc42212385ea797094475802 487130206",
        id="sha1sum-adler32sum",
    ),
]

# Sprig docs/date.md
DURATIONS = [
    pytest.param(
        '{{ duration "95" }} {{ duration (int64 3600) }} {{ duration 95 }}',
        "1m35s 1h0m0s 0s",
        id="duration",
    ),
    pytest.param(
        ('{{ durationRound "2h10m5s" }} {{ durationRound "800h" }} {{ durationRound "10000h" }}'),
        "2h 1mo 1y",
        id="durationRound",
    ),
]

# Go text/template: the escapers Flux keeps
BUILTINS = [
    pytest.param(
        '{{ html "<a href=\'x\'>&" }}|{{ js "it\'s <b>" }}|{{ urlquery "a b&c" }}',
        "&lt;a href=&#39;x&#39;&gt;&amp;|it\\'s \\u003Cb\\u003E|a+b%26c",
        id="html-js-urlquery",
    ),
]

FAMILIES = [
    *STRINGS,
    *REGEX,
    *STRING_SLICES,
    *INTEGER_SLICES,
    *CONVERSION,
    *MATH,
    *MATHF,
    *DEFAULTS,
    *ENCODING,
    *LISTS,
    *DICTS,
    *REFLECTION,
    *PATHS,
    *SEMVER,
    *HASHES,
    *DURATIONS,
    *BUILTINS,
]


@pytest.mark.parametrize(("template", "expected"), FAMILIES)
def test_sprig_functions(template: str, expected: str) -> None:
    assert render(template, {}) == expected


@pytest.mark.parametrize(
    ("template", "error"),
    [
        pytest.param(
            '{{ first "abc" }}',
            "error calling first: Cannot find first on type string",
            id="list-function-on-a-string",
        ),
        pytest.param(
            '{{ fail "Please accept the end user license agreement" }}',
            "error calling fail: Please accept the end user license agreement",
            id="fail",
        ),
        pytest.param("{{ div 1 0 }}", "error calling div: runtime error: integer divide by zero"),
        pytest.param("{{ divf 1 0 }}", "error calling divf: decimal division by 0"),
        pytest.param('{{ semver "bogus" }}', "error calling semver: invalid semantic version"),
        pytest.param(
            '{{ semverCompare "bogus" "1.2.3" }}',
            'error calling semverCompare: improper constraint: "bogus"',
        ),
        pytest.param('{{ regexFind "(" "x" }}', "error calling regexFind: regexp: Compile(`(`)"),
        pytest.param(
            '{{ dig "a" "b" "dflt" (dict "a" 1) }}',
            "error calling dig: interface conversion: interface {} is int, "
            "not map[string]interface {}",
        ),
        pytest.param(
            '{{ substr 9 3 "hello" }}',
            "error calling substr: runtime error: slice bounds out of range [9:3]",
        ),
        pytest.param('{{ repeat -1 "x" }}', "error calling repeat: strings: negative Repeat count"),
    ],
)
def test_sprig_errors(template: str, error: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        render(template, {})
    assert error in str(info.value)


# -------------------------------------------------------------- Go's types, as in Flux

TYPE_ERRORS = [
    pytest.param(
        '{{ repeat (add 1 2) "x" }}',
        "line 1, column 12: wrong type for value; expected int; got int64",
        id="add-returns-int64-repeat-wants-int",
    ),
    pytest.param('{{ repeat 3.5 "x" }}', "expected integer; found 3.5", id="float-literal-for-int"),
    pytest.param('{{ repeat "3" "x" }}', 'expected integer; found "3"', id="string-for-int"),
    pytest.param("{{ upper 3 }}", "expected string; found 3", id="number-for-string"),
    pytest.param("{{ upper nil }}", "cannot assign nil to string", id="nil-for-string"),
    pytest.param('{{ ternary 1 2 "yes" }}', 'expected bool; found "yes"', id="string-for-bool"),
    pytest.param(
        "{{ upper (first (list)) }}",
        "invalid value; expected string",
        id="a-nil-result-is-no-string",
    ),
    pytest.param(
        "{{ add1 9999999999999999999 }}",
        "9999999999999999999 overflows int",
        id="literal-beyond-int64",
    ),
    pytest.param(
        '{{ get (split "/" "a/b") "_0" }}',
        "wrong type for value; expected map[string]interface {}; got map[string]string",
        id="split-gives-map-of-strings-not-a-dict",
    ),
    pytest.param(
        "{{ upper }}", "wrong number of args for upper: want 1 got 0", id="too-few-arguments"
    ),
    pytest.param(
        "{{ round 1 }}", "wrong number of args for round: want at least 2 got 1", id="variadic"
    ),
    pytest.param(
        '{{ (semver "1.2.3").IncMajor.Original }}',
        "can't evaluate field Original in type semver.Version",
        id="pointer-methods-need-a-pointer",
    ),
]


@pytest.mark.parametrize(("template", "error"), TYPE_ERRORS)
def test_arguments_are_converted_and_checked_as_go_does(template: str, error: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        render(template, {})
    assert error in str(info.value)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param('{{ repeat 3.0 "x" }}', "xxx", id="integral-float-literal-is-an-int"),
        pytest.param("{{ typeOf 1 }} {{ typeOf 1.0 }} {{ typeOf 'a' }}", "int float64 int"),
        pytest.param('{{ repeat (int (add 1 2)) "x" }}', "xxx", id="int-converts"),
        pytest.param("{{ eq (add 1 2) 3 }}", "true", id="int64-compares-with-int"),
        pytest.param('{{ printf "%T %v" (until 2) (until 2) }}', "[]int [0 1]"),
    ],
)
def test_go_typed_values(template: str, expected: str) -> None:
    assert render(template, {}) == expected


def flux_values() -> object:
    return template_data(
        "image.toolkit.fluxcd.io/v1", "flux-system", "auto", [], {"cluster": "prod"}
    )


def test_values_are_a_map_of_strings_as_in_flux() -> None:
    """``.Values`` is a ``map[string]string``: Sprig's dict functions (which take a
    ``map[string]interface {}``) refuse it in Flux, and so here; fields and ``index`` work."""
    data = flux_values()
    assert render('{{ .Values.cluster | upper }} {{ index .Values "cluster" }}', data) == (
        "PROD prod"
    )
    with pytest.raises(InvalidSpec, match="expected map\\[string\\]interface \\{\\}; got map"):
        render("{{ keys .Values }}", data)
    with pytest.raises(InvalidSpec, match="invalid value; expected string"):
        render("{{ .Values.region | upper }}", data)  # a missing value is no string either
    assert render('{{ .Values.region | default "eu" }}', data) == "eu"


# ---------------------------------------------------- functions conveyor does not have


@pytest.mark.parametrize("name", sorted(sprig.UNSUPPORTED | {"call"}))
def test_a_flux_function_conveyor_lacks_is_refused_by_name_when_parsed(name: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        validate("Automated update\n{{ if false }}{{ " + name + " }}{{ end }}")
    message = str(info.value)
    assert f'line 2, column 18: function "{name}" is not supported by conveyor' in message


@pytest.mark.parametrize(
    "name", ["now", "date", "env", "expandenv", "uuidv4", "randAlpha", "getHostByName", "nope"]
)
def test_functions_flux_does_not_register_are_not_defined(name: str) -> None:
    """Sprig's non-hermetic functions are left out of Flux's map: not defined, as there."""
    with pytest.raises(InvalidSpec, match=f'function "{name}" not defined'):
        validate("{{ " + name + " }}")


def test_the_function_map_is_sprigs_hermetic_one() -> None:
    """Every name of Sprig v3.3.0's HermeticTxtFuncMap is either implemented or refused."""
    hermetic = """
        hello ago duration durationRound must_date_modify mustDateModify mustToDate toDate
        unixEpoch abbrev abbrevboth trunc trim upper lower title untitle substr repeat
        trimall trimAll trimSuffix trimPrefix nospace initials swapcase shuffle snakecase
        camelcase kebabcase wrap wrapWith contains hasPrefix hasSuffix quote squote cat
        indent nindent replace plural sha1sum sha256sum sha512sum adler32sum toString atoi
        int64 int float64 seq toDecimal split splitList splitn toStrings until untilStep
        add1 add sub div mod mul randInt add1f addf subf divf mulf biggest max min maxf minf
        ceil floor round join sortAlpha default empty coalesce all any compact mustCompact
        fromJson toJson toPrettyJson toRawJson mustFromJson mustToJson mustToPrettyJson
        mustToRawJson ternary deepCopy mustDeepCopy typeOf typeIs typeIsLike kindOf kindIs
        deepEqual base dir clean ext isAbs osBase osClean osDir osExt osIsAbs b64enc b64dec
        b32enc b32dec tuple list dict get set unset hasKey pluck keys pick omit merge
        mergeOverwrite mustMerge mustMergeOverwrite values append push mustAppend mustPush
        prepend mustPrepend first mustFirst rest mustRest last mustLast initial mustInitial
        reverse mustReverse uniq mustUniq without mustWithout has mustHas slice mustSlice
        concat dig chunk mustChunk bcrypt htpasswd genPrivateKey derivePassword
        buildCustomCert genCA genCAWithKey genSelfSignedCert genSelfSignedCertWithKey
        genSignedCert genSignedCertWithKey encryptAES decryptAES semver semverCompare fail
        regexMatch mustRegexMatch regexFindAll mustRegexFindAll regexFind mustRegexFind
        regexReplaceAll mustRegexReplaceAll regexReplaceAllLiteral
        mustRegexReplaceAllLiteral regexSplit mustRegexSplit regexQuoteMeta urlParse urlJoin
    """.split()  # noqa: SIM905 - the names as Go lists them, a few a line
    assert len(hermetic) == len(set(hermetic))
    assert set(hermetic) == set(sprig.FUNCTIONS) | sprig.UNSUPPORTED
    assert len(sprig.FUNCTIONS) > 150


# ----------------------------------------------------------------- random functions


def test_shuffle_and_randInt_are_random_as_in_sprig() -> None:
    """Flux keeps these two (they read no clock or environment): a permutation, a number in
    the range."""
    for _ in range(20):
        shuffled = render('{{ shuffle "abcdef" }}', {})
        assert sorted(shuffled) == list("abcdef")
        assert 3 <= int(render("{{ randInt 3 6 }}", {})) < 6
    with pytest.raises(InvalidSpec, match="invalid argument to Intn"):
        render("{{ randInt 2 2 }}", {})


# --------------------------------------------------------------------------- bounds

BOUNDED = [
    pytest.param('{{ repeat 1000000000 "x" }}', "repeat would be 1000000000 bytes", id="repeat"),
    pytest.param("{{ len (until 1000000000) }}", "would have 1000000000 elements", id="until"),
    pytest.param("{{ untilStep 0 1000000000 1 }}", "would have 1000000000 elements", id="step"),
    pytest.param("{{ seq 1000000 }}", "would have 1000000 elements", id="seq"),
    pytest.param('{{ indent 1000000000 "x" }}', "indent would be 1000000001 bytes", id="indent"),
    pytest.param(
        '{{ replace "" (repeat 1000 "y") (repeat 60000 "a") }}',
        "replace would be 60061000 bytes",
        id="replace",
    ),
    pytest.param(
        '{{ $s := "x" }}{{ range until 30 }}{{ $s = cat $s $s }}{{ end }}',
        f"cat returned more than {MAX_VALUE_BYTES} bytes",
        id="doubling-a-string",
    ),
    pytest.param(
        '{{ range until 100000 }}{{ $x := repeat 60000 "x" }}{{ end }}',
        f"template execution exceeded {MAX_STEPS} steps",
        id="big-values-in-a-loop",
    ),
    pytest.param(
        "{{ $l := list 1 }}{{ range until 30 }}{{ $l = list $l $l }}{{ end }}{{ toJson $l }}",
        f"template execution exceeded {MAX_STEPS} steps",
        id="a-shared-tree-of-a-billion-leaves",
    ),
    pytest.param(
        '{{ $d := dict }}{{ $_ := set $d "self" $d }}{{ toJson $d }}',
        "value nested deeper than",
        id="a-map-holding-itself",
    ),
    pytest.param(
        "{{ uniq (until 100000) }}",
        f"template execution exceeded {MAX_STEPS} steps",
        id="quadratic-uniq",
    ),
]


@pytest.mark.parametrize(("template", "error"), BOUNDED)
def test_functions_stay_within_the_interpreters_bounds(template: str, error: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        render(template, {})
    assert error in str(info.value)


def test_what_is_written_is_capped_whatever_builds_it() -> None:
    assert len(render('{{ repeat 65536 "x" }}', {})) == MAX_OUTPUT_BYTES
    with pytest.raises(InvalidSpec, match=f"exceeds {MAX_OUTPUT_BYTES} bytes"):
        render('{{ repeat 65537 "x" }}', {})
