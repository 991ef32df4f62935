"""The source-fetcher's ignore rules on two engines: the built-in patterns alone (a repository
without ``.sourceignore`` or ``spec.ignore``) on Python's ``re``, anything of a repository's or
an object's own on RE2; both give the same verdicts, and a fetcher whose sources add no
pattern never loads RE2."""

from __future__ import annotations

import subprocess
import sys

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.services.source_fetcher import ignore
from conveyor.services.source_fetcher.ignore import Matcher, rules_for

_NAMES = st.sampled_from(
    [".git", ".github", ".circleci", "a.png", "b.tar.gz", "c.zip", ".gitignore", ".flux.yaml",
     "cloudbuild.yaml", "codeship-steps.yml", "deploy", "app.yaml", "x.jpg.txt", "tar.gz", "é"]
)  # fmt: skip


def test_the_built_in_rules_are_pathspec_s_translation_of_flux_s_patterns() -> None:
    texts = (*ignore.EXCLUDE_VCS, *ignore.EXCLUDE_DEFAULT)
    parsed = ignore.parse("\n".join(texts))
    assert [(r.text, r.regex, r.excludes) for r in parsed] == [
        (t, ignore._BUILT_IN[t], True) for t in texts
    ]
    assert rules_for([], None) == parsed


@settings(max_examples=300, deadline=None)
@given(st.lists(_NAMES, min_size=1, max_size=6), st.booleans())
def test_built_in_rules_on_python_re_match_as_on_re2(parts: list[str], is_dir: bool) -> None:
    rules = rules_for([], None)  # the VCS files and Flux's default list
    matcher = Matcher(rules)
    assert all(d.set is None for d in matcher.domains)  # Python's re, no RE2 set
    relative = "/".join(parts) + ("/" if is_dir else "")
    on_re2 = max((i for i, r in enumerate(rules) if re2.search(r.regex, relative)), default=-1)
    assert matcher.last_match(tuple(parts), is_dir, -1) == on_re2


def test_a_repository_s_own_pattern_goes_to_re2_with_the_built_in_ones() -> None:
    matcher = Matcher(rules_for([((), "*.txt\n")], None))
    assert [d.set is not None for d in matcher.domains] == [True]
    index = matcher.last_match(("notes.txt",), False, -1)
    assert matcher.excluded(index)
    assert matcher.excluded(matcher.last_match((".git",), True, -1))
    assert not matcher.excluded(matcher.last_match(("a.png",), False, -1))  # defaults replaced


def test_a_fetcher_with_the_built_in_rules_alone_loads_no_re2() -> None:
    probe = (
        "import sys\n"
        "from conveyor.services.runner import load_stage\n"
        "load_stage('source-fetcher')\n"
        "from conveyor.services.source_fetcher.ignore import Matcher, rules_for\n"
        "m = Matcher(rules_for([], None))\n"
        "print(m.excluded(m.last_match(('a.png',), False, -1)), 're2' in sys.modules)\n"
        "m = Matcher(rules_for([], '*.txt'))\n"
        "print(m.excluded(m.last_match(('a.txt',), False, -1)), 're2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["True False", "True True"]  # (pathspec brings RE2)
