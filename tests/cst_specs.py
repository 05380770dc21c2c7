"""Generated container-structure-test specs over every CST field, for the images of tests/cst_images.py:
each command and file comes with candidate regexes and permissions that match, nearly match, or differ
between Go and Python, so that a spec holds passing and failing tests."""

from __future__ import annotations

import random
from typing import Any

SEED = 19
SPECS_DEFAULT = 2  # generated specs per run in .ci/run; ROOTFS_CI_CST_SPECS=N runs more

# Each command and file comes with candidate regexes: ones that match, near misses, and ones whose
# verdict differs between Go's regexp and Python's re (anchors, \z, \Q..\E, \pL, classes).
EDGE_REGEXES = ("", "^$", "[[:alpha:]]+", "\\Qa.b\\E", "(?U)a+?", "a{2,}", "\\x2e", "\\s$", "(?i)HELLO", "\\d")
PLAIN = (
    "(?m)^second", "^second", "code\n$", "(?m)code$", "code$", "ü", "\\x{00fc}", "\\pL", "\\p{Greek}",
    "[^\\x00-\\x7f]", "\\bline\\b", "lin\\B", "^first line\nsecond", "first.line", "\\Afirst", "42",
)  # fmt: skip
COMMANDS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (("echo", "hello world"), ("hello", "^hello world$", "^hello world\n$", "(?m)^hello world$", "world\n",
                               "\\Ahello", "world\\z", "world\\s\\z"), ("^$", "x")),
    (("echo", "-n", "hello"), ("^hello$", "hello\\z", "\n", "^hello\n$"), ("^$",)),
    (("printf", "a\\nb\\n"), ("(?m)^b$", "^b$", "^a\nb\n$", "a.b", "(?s)a.b"), ("^$",)),
    (("sh", "-c", "echo out; echo err >&2; exit 3"), ("^out\n$", "out$", "err"),
     ("^err\n$", "err$", "(?m)^err$", "out")),
    (("sh", "-c", "echo $GREETING-$FOO-$G2"), ("^hello--\n$", "^global-", "bar", "hello-bar", "-two$", "(?m)-two$",
                                              "from-global", "hello/g"), ("^$",)),
    (("sh", "-c", "echo ${GREETING}x $$ $1 ${} $? end$"), ("^hellox +end\\$\n$", "\\$\\$", "end\\$", "hellox",
                                                          "globalx", "\\d"), ("^$",)),
    (("sh", "-c", 'echo "[$HOME]"; pwd; id -u'), ("\\[\\]", "\\[/root\\]", "(?m)^/diff$", "(?m)^/$", "(?m)^0$",
                                                 "(?m)^1000$", "^\\[/home/user\\]"), ("^$",)),
    (("sh", "-c", "echo [$EMPTY] [$EQUALS] [$DOLLAR]"), ("\\[\\] \\[\\] \\[\\]", "\\[a=b=c\\]", "\\[\\$HOME\\]",
                                                        "\\[/root\\]"), ("^$",)),
    (("env",), ("(?m)^GREETING=hello$", "(?m)^FOO=bar$", "(?m)^FOO=\\$GREETING-x$", "(?m)^FOO=hello-x$", "(?m)^PATH=",
                "(?m)^HOME=/root$", "DOLLAR=\\$HOME", "(?m)^G2=hello/g$", "(?m)^G2=\\$GREETING/g$"), ("^$",)),
    (("cat", "/diff/plain.txt"), PLAIN, ("^$",)),
    (("cat", "/tmp/made"), ("^$", "^hello\n$", "^bar\n$", "hello-x", "^\n$"), ("No such file", "^$")),
    (("ls", "/tmp/made"), ("^/tmp/made\n$",), ("No such file",)),
    (("sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo"), ("^sh -c", "start\\.sh", "^/bin/sh"), ("^$",)),
    (("no-such-command",), ("",), ("",)),
    (("false",), ("^$",), ("^$",)),
    (("sh", "-c", "printf 'hello\\n\\n'; exit 1"), ("hello\n$", "hello\n\n$", "(?m)^$", "^hello$", "(?m)^hello$"), ()),
    (("$GREETING",), ("",), ("",)),
    (("sh", "-c", "touch /diff/new && echo ok"), ("^ok\n$",), ("Permission denied", "^$")),
)  # fmt: skip
SETUPS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (),
    (),
    (),
    (("touch", "/tmp/made"),),
    (("sh", "-c", "echo $FOO > /tmp/made"),),
    (("sh", "-c", "exit 5"), ("sh", "-c", "echo hello > /tmp/made")),
    (("no-such-setup",),),
)
TEST_ENVS: tuple[tuple[tuple[str, str], ...], ...] = (
    (),
    (),
    (("FOO", "bar"),),
    (("FOO", "$GREETING-x"),),
    (("FOO", "${HOME}"), ("G2", "two")),
    (("PATH", "/nowhere"),),
)
GLOBAL_ENVS: tuple[tuple[tuple[str, str], ...], ...] = (
    (),
    (),
    (("GREETING", "global"),),
    (("G2", "$GREETING/g"), ("FOO", "from-global")),
)
NO_CONTENT: tuple[str, ...] = ()
# path -> (permission strings: Go's right one first, then near misses; regexes for its content)
FILES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "/diff/plain.txt": (("-rw-r--r--", "-rw-r--r-- "), PLAIN),
    "/diff/noeol.txt": (("-rw-------",), ("end$", "end\n$", "end\\z", "(?m)end$", "^no newline")),
    "/diff/empty.txt": (("-rw-r--r--",), ("^$", "", "\\A\\z", ".")),
    "/diff/crlf.txt": (("-rw-r--r--",), ("(?m)^beta$", "(?m)^beta\r$", "alpha\r\n", "\r", "^alpha$", "(?m)^alpha\\s")),
    "/diff/space name.txt": (("-r--r--r--",), ("\\Qa.b\\E", "a\\.b \\[x\\]", "\\$HOME", "/root")),
    "/diff/setuid": (("urwxr-xr-x", "-rwsr-xr-x"), ("setuid", "^#!")),
    "/diff/setgid": (("grwx--x--x", "-rwx--s--x"), NO_CONTENT),
    "/diff/both": (("ugrwxr-x---", "-rwsr-s---", "gurwxr-x---"), NO_CONTENT),
    "/diff/owned": (("-rw-r-----",), ("^owned\n$", "^owned$")),
    "/diff/group-exec": (("------x---",), NO_CONTENT),
    "/diff/other-exec": (("---------x",), NO_CONTENT),
    "/diff/sticky": (("dtrwxrwxrwx", "drwxrwxrwt"), NO_CONTENT),
    "/diff/private": (("drwx------",), NO_CONTENT),
    "/diff/private/inner.txt": (("-rw-------",), ("inner",)),
    "/diff/abs-link": (("Lrwxrwxrwx", "lrwxrwxrwx"), PLAIN),
    "/diff/rel-link": (("Lrwxrwxrwx",), PLAIN),
    "/diff/dir-link": (("Lrwxrwxrwx", "dtrwxrwxrwx"), NO_CONTENT),
    "/diff/dangling": (("Lrwxrwxrwx",), NO_CONTENT),
    "/diff/hard": (("-rw-r--r--",), PLAIN),
    "/diff": (("drwxr-xr-x",), NO_CONTENT),
    "/diff/": (("drwxr-xr-x",), NO_CONTENT),
    "/": (("drwxr-xr-x",), NO_CONTENT),
    "/tmp": (("dtrwxrwxrwx", "drwxrwxrwt"), NO_CONTENT),
    "/missing": (("-rw-r--r--",), NO_CONTENT),
    "/diff/plain.txt/": (("-rw-r--r--",), PLAIN),
    "/etc/passwd": (("-rw-r--r--",), ("^root:", "(?m)^daemon:", "^daemon", "(?m)^www-data:x:33:")),
    "/bin/sh": (("Lrwxrwxrwx",), ("ELF",)),
    "/diff/${EMPTY}plain.txt": (("-rw-r--r--",), PLAIN),
    "/diff/$GREETING": (("-rw-r--r--",), NO_CONTENT),
    "/diff/pl$": (("-rw-r--r--",), NO_CONTENT),
    "$NOPE/diff/plain.txt": (("-rw-r--r--",), PLAIN),
    "diff/plain.txt": (("-rw-r--r--",), PLAIN),
    "/diff/../diff/plain.txt": (("-rw-r--r--",), PLAIN),
}
LICENSE_FILES = ("/diff/LICENSE", "/diff/COPYING.agpl", "/diff/missing", "/diff", "/diff/abs-link")
METADATA: dict[str, tuple[Any, ...]] = {
    "envVars": (
        ("GREETING", "hello", False), ("GREETING", "^h", True), ("GREETING", "hell", False), ("EMPTY", "", False),
        ("EQUALS", "a=b=c", False), ("DOLLAR", "$HOME", False), ("NOPE", "x", False), ("PATH", "(?m)^/usr", True),
        ("HOME", ".*", True), ("PATH", "bin$", True),
    ),
    "labels": (
        ("version", "1.2.3", False), ("version", "^\\d+\\.\\d+", True), ("version", "1.2", False),
        ("description", "two words", False), ("description", "^two$", True), ("empty", "", False),
        ("missing", ".*", True), ("empty", "^$", True),
    ),
    "cmd": (None, [], ["/bin/sh"], ["--help"], ["/bin/sh", "-c"]),
    "entrypoint": (None, [], ["/bin/false"], ["/bin/sh"]),
    "workdir": ("", "/diff", "/", "/diff/"),
    "user": ("", "root", "1000", "0"),
    "exposedPorts": ("80", "53", "8080", "80/tcp", "443"),
    "unexposedPorts": ("80", "53", "443", "8080/tcp"),
    "volumes": ("/data", "/var/cache", "/data/", "/srv"),
    "unmountedVolumes": ("/data", "/srv"),
    "unboundEnvVars": ("NOPE", "GREETING", "HOME"),
}  # fmt: skip


def _pick(rng: random.Random, pool: tuple[Any, ...], most: int) -> list[Any]:
    return rng.sample(pool, rng.randint(0, min(most, len(pool))))


def _env(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in pairs]


def _patterns(rng: random.Random, own: tuple[str, ...]) -> list[str]:
    """Mostly the candidates of this output or file, now and then an edge case from anywhere."""
    return [
        rng.choice(EDGE_REGEXES) if rng.random() < 0.15 or not own else rng.choice(own)
        for _ in range(rng.randint(0, 2))
    ]


def _command_test(rng: random.Random, name: str) -> dict[str, Any]:
    argv, stdout, stderr = rng.choice(COMMANDS)
    test: dict[str, Any] = {"name": name, "command": argv[0], "args": list(argv[1:])}
    if setup := rng.choice(SETUPS):
        test["setup"] = [list(step) for step in setup]
    if rng.random() < 0.15:
        test["teardown"] = [["rm", "-f", "/tmp/made"]]
    if env := rng.choice(TEST_ENVS):
        test["envVars"] = _env(env)
    for key, own in (
        ("expectedOutput", stdout),
        ("excludedOutput", stdout),
        ("expectedError", stderr),
        ("excludedError", stderr),
    ):
        if patterns := _patterns(rng, own):
            test[key] = patterns
    if rng.random() < 0.5:
        test["exitCode"] = rng.choice((0, 0, 1, 3))
    return test


def _existence_test(rng: random.Random, name: str) -> dict[str, Any]:
    path = rng.choice(tuple(FILES))
    test: dict[str, Any] = {"name": name, "path": path, "shouldExist": rng.random() < 0.8}
    if rng.random() < 0.6:
        own = FILES[path][0]
        test["permissions"] = own[0] if rng.random() < 0.6 else rng.choice(own + FILES[rng.choice(tuple(FILES))][0])
    for key in ("uid", "gid"):
        if rng.random() < 0.3:
            test[key] = rng.choice((-1, 0, 0, 1000, 50))
    if rng.random() < 0.3:
        test["isExecutableBy"] = rng.choice(("any", "owner", "group", "other"))
    return test


def _content_test(rng: random.Random, name: str) -> dict[str, Any]:
    path = rng.choice(tuple(FILES))
    test: dict[str, Any] = {"name": name, "path": path}
    for key in ("expectedContents", "excludedContents"):
        if patterns := _patterns(rng, FILES[path][1]):
            test[key] = patterns
    return test


def _metadata(rng: random.Random) -> dict[str, Any]:
    """One to three of metadataTest's fields, each with values right for one image or the other."""
    metadata: dict[str, Any] = {}
    for key in rng.sample(tuple(METADATA), rng.randint(1, 3)):
        pool = METADATA[key]
        if key in ("envVars", "labels"):
            metadata[key] = [{"key": k, "value": v, "isRegex": regex} for k, v, regex in _pick(rng, pool, 2)]
        elif key == "unboundEnvVars":
            metadata[key] = [{"key": k} for k in _pick(rng, pool, 1)]
        elif key in ("cmd", "entrypoint", "workdir", "user"):
            metadata[key] = rng.choice(pool)
        else:
            metadata[key] = _pick(rng, pool, 2)
    return metadata


def generate_spec(rng: random.Random, index: int) -> dict[str, Any]:
    """One spec over every CST field, with tests that pass and tests that fail on either image."""
    spec: dict[str, Any] = {"schemaVersion": "2.0.0"}
    if global_env := rng.choice(GLOBAL_ENVS):
        spec["globalEnvVars"] = _env(global_env)
    spec["commandTests"] = [_command_test(rng, f"cmd-{index}-{n}") for n in range(5)]
    spec["fileExistenceTests"] = [_existence_test(rng, f"exists-{index}-{n}") for n in range(10)]
    spec["fileContentTests"] = [_content_test(rng, f"content-{index}-{n}") for n in range(6)]
    spec["metadataTest"] = _metadata(rng)
    spec["licenseTests"] = [
        {"debian": rng.random() < 0.6, "files": _pick(rng, LICENSE_FILES, 2)} for _ in range(rng.randint(0, 2))
    ]
    return spec
