"""Go's semantics behind container-structure-test's fields: regexp, os.Expand, fs.FileMode strings.
Expected values are what Go itself gives (checked against CST by tests/integration/test_cst_differential.py)."""

from __future__ import annotations

import pytest

from rootfs_ci.smoke.golang import env_map, expand_env, file_mode, regex_error, search


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("^UTC$", "UTC\n", False),  # $ is the very end of the text; Python's re would match
        ("^UTC\n$", "UTC\n", True),
        ("(?m)^UTC$", "UTC\n", True),
        ("^second", "first\nsecond\n", False),  # ^ is the start of the text
        ("(?m)^second", "first\nsecond\n", True),
        ("a.b", "a\nb", False),
        ("(?s)a.b", "a\nb", True),
        (r"\d", "٣", False),  # ASCII classes
        (r"\pL", "é", True),
        ("[[:alpha:]]+", "x", True),
        (r"\Qa.b\E", "axb", False),
        (r"end\z", "end", True),
        ("", "", True),
    ],
)
def test_regexes_are_go_regexes(pattern: str, text: str, matches: bool) -> None:
    assert search(pattern, text) is matches


@pytest.mark.parametrize("pattern", ["(?=a)", r"(a)\1", r"\Z", "(?<!a)b", "a{1001}"])
def test_what_go_cannot_compile_is_refused(pattern: str) -> None:
    assert regex_error(pattern)


def test_a_valid_pattern_has_no_error() -> None:
    assert regex_error(r"^\d+\.\d+$") is None


ENV = {"HOME": "/root", "GREETING": "hello", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$HOME/x", "/root/x"),
        ("${GREETING}x", "hellox"),
        ("$GREETINGx", ""),  # the name runs on
        ("rc=$?", "rc="),  # shell specials are names too (and unset)
        ("$1 $$ $@", "  "),
        ("${}", ""),  # bad syntax, eaten
        ("${HOME", "HOME"),  # no closing brace: '${' eaten
        ("end$", "end$"),  # a lone trailing '$' stays
        ("$(cmd) $((6 * 7))", "$(cmd) $((6 * 7))"),  # '$' before a non-name stays
        ("a$-b", "ab"),
        ("${EMPTY}z", "z"),
        ("no dollars", "no dollars"),
    ],
)
def test_expansion_is_go_os_expand(text: str, expanded: str) -> None:
    assert expand_env(text, ENV) == expanded


def test_env_lists_split_at_the_first_equals_sign() -> None:
    assert env_map(["A=b=c", "EMPTY=", "PATH=/bin"]) == {"A": "b=c", "EMPTY": "", "PATH": "/bin"}
    assert env_map(None) == {}


@pytest.mark.parametrize(
    ("mode", "kind", "shown"),
    [
        (0o644, "file", "-rw-r--r--"),
        (0o777, "symlink", "Lrwxrwxrwx"),
        (0o755, "dir", "drwxr-xr-x"),
        (0o1777, "dir", "dtrwxrwxrwx"),
        (0o4755, "file", "urwxr-xr-x"),
        (0o2711, "file", "grwx--x--x"),
        (0o6750, "file", "ugrwxr-x---"),
        (0o000, "file", "----------"),
    ],
)
def test_modes_are_go_file_mode_strings(mode: int, kind: str, shown: str) -> None:
    assert file_mode(mode, kind) == shown
