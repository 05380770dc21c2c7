"""Smoke spec parsing: CST field names accepted; bad specs are one line with file:line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rootfs_ci.errors import ConfigError
from rootfs_ci.smoke.cst import CST_SECTIONS, cst_part, export_cst
from rootfs_ci.smoke.spec import load_spec

SPECS = Path(__file__).resolve().parents[1] / "smoke"

GOOD = """\
schemaVersion: 2.0.0
commandTests:
  - name: echo
    command: echo
    args: [hi]
    expectedOutput: ['^hi$']
http:
  - name: index
    path: /
    body: 'It works!'
stop:
  maxSeconds: 1.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["apacheinit", "testrfs"])
def test_the_repository_specs_parse(name: str) -> None:
    spec = load_spec(SPECS / f"{name}.yaml")
    assert spec.hostKernel is True
    assert spec.commandTests


def test_a_container_structure_test_file_is_accepted(tmp_path: Path) -> None:
    cst = """\
schemaVersion: 2.0.0
commandTests:
  - name: "apt-get upgrade"
    command: "apt-get"
    args: ["-qqs", "upgrade"]
    excludedOutput: [".*Inst.*Security.* "]
    envVars:
      - key: LANG
        value: C
fileExistenceTests:
  - name: 'Root'
    path: '/'
    shouldExist: true
    permissions: '-rw-r--r--'
    uid: 0
    gid: 0
    isExecutableBy: 'group'
fileContentTests:
  - name: 'Debian Sources'
    path: '/etc/apt/sources.list'
    expectedContents: ['.*httpredir\\.debian\\.org.*']
    excludedContents: ['.*gce_debian_mirror.*']
metadataTest:
  labels:
    - key: 'com.example.vendor'
      value: 'ACME Incorporated'
  exposedPorts: ["8080", "2345"]
  cmd: ["/bin/bash"]
  workdir: "/app"
"""
    spec = load_spec(write(tmp_path, cst))
    assert spec.commandTests[0].envVars[0].key == "LANG"
    assert spec.metadataTest is not None and spec.metadataTest.workdir == "/app"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("schemaVersion: 2.0.0", "schemaVersion: 1.0.0", "spec.yaml:1: schemaVersion: schemaVersion '1.0.0'"),
        ("    args: [hi]", "    argz: [hi]", "spec.yaml:5: commandTests[0].argz: unknown key"),
        ("    args: [hi]", "    args: hi", "spec.yaml:5: commandTests[0].args: expected a list"),
        ("    expectedOutput: ['^hi$']", "    expectedOutput: ['(']", "is not a valid Go regular expression"),
        ("  maxSeconds: 1.0", "  maxSeconds: soon", "spec.yaml:12: stop.maxSeconds"),
        ("http:", "htp:", "spec.yaml:7: htp: unknown key"),
        ("  - name: index\n", "  - nam: index\n", "http[0].nam: unknown key"),
    ],
)
def test_bad_specs_name_file_line_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert_refused(tmp_path, GOOD, old, new, expected)


def assert_refused(tmp_path: Path, good: str, old: str, new: str, expected: str) -> None:
    """``good`` with ``old`` replaced by ``new`` is refused in one line containing ``expected``."""
    assert old in good
    with pytest.raises(ConfigError) as caught:
        load_spec(write(tmp_path, good.replace(old, new)))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_fields_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"commandTests\[0\]\.command: required key is missing"):
        load_spec(write(tmp_path, "schemaVersion: 2.0.0\ncommandTests:\n  - name: x\n"))


def test_bad_yaml_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"spec.yaml:3: not valid YAML"):
        load_spec(write(tmp_path, "schemaVersion: 2.0.0\ncommandTests: [\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="a smoke spec is a mapping"):
        load_spec(write(tmp_path, "- just a list\n"))


CST_FULL = """\
schemaVersion: 2.0.0
globalEnvVars:
  - key: G
    value: $HOME/g
commandTests:
  - name: with setup
    setup: [[touch, /tmp/x]]
    teardown: [[rm, /tmp/x]]
    command: ls
    args: [/tmp/x]
    envVars: [{key: A, value: b}]
    timeoutSeconds: 5
  - name: ours
    command: ps
    exec: true
fileExistenceTests:
  - name: link
    path: /bin/sh
    permissions: Lrwxrwxrwx
    uid: -1
    symlinkTo: busybox
fileContentTests:
  - name: passwd
    path: /etc/passwd
    expectedContents: ['(?m)^root:']
metadataTest:
  workdir: ""
  volumes: [/data]
  unmountedVolumes: [/srv]
  unboundEnvVars: [{key: NOPE}]
  envVars: [{key: PATH, value: '^/usr', isRegex: true}]
licenseTests:
  - debian: true
    files: [/LICENSE]
http:
  - name: index
"""


def test_every_cst_field_is_accepted(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, CST_FULL))
    assert spec.globalEnvVars[0].value == "$HOME/g"
    assert spec.commandTests[0].setup == (("touch", "/tmp/x"),)
    assert spec.metadataTest is not None and spec.metadataTest.envVars[0].isRegex
    assert spec.licenseTests[0].debian
    assert spec.needs_cmd_container()  # http and exec: true run against the CMD


def test_a_cst_only_spec_needs_no_running_cmd(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, CST_FULL.split("http:", maxsplit=1)[0].replace("    exec: true\n", "")))
    assert not spec.needs_cmd_container()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "'(?m)^root:'",
            "'(?=root)'",
            "expectedContents: '(?=root)' is not a valid Go regular",
        ),
        ("'^/usr', isRegex: true", "'(?<=x)', isRegex: true", "not a valid Go regular expression"),
        ("    command: ps\n    exec: true", "    command: ps\n    exec: true\n    setup: [[x]]", "setup runs in a new"),
        ("{key: A, value: b}", "{key: A, value: ''}", "commandTests[0].envVars[0].value: must not be empty"),
        ("    setup: [[touch, /tmp/x]]", "    setup: [[]]", "commandTests[0].setup: an empty command"),
        ("  volumes: [/data]", "  volumes: ['']", "metadataTest.volumes: an empty entry"),
        ("    permissions: Lrwxrwxrwx", "    isExecutableBy: everyone", "fileExistenceTests[0].isExecutableBy"),
    ],
)
def test_what_cst_would_refuse_or_fail_is_refused(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert_refused(tmp_path, CST_FULL, old, new, expected)


def test_the_export_keeps_only_what_cst_knows(tmp_path: Path) -> None:
    source = write(tmp_path, CST_FULL)
    target = tmp_path / "out" / "cst.yaml"
    target.parent.mkdir()
    left_out = export_cst(load_spec(source), source, target)
    assert left_out == ["ours"]
    text = target.read_text()
    assert "# Left out (exec: true" in text
    data = yaml.safe_load(text)
    assert tuple(data) == CST_SECTIONS
    assert data["commandTests"] == [
        {
            "name": "with setup",
            "command": "ls",
            "args": ["/tmp/x"],
            "setup": [["touch", "/tmp/x"]],
            "teardown": [["rm", "/tmp/x"]],
            "envVars": [{"key": "A", "value": "b"}],
        }
    ]
    assert data["fileExistenceTests"] == [{"name": "link", "path": "/bin/sh", "permissions": "Lrwxrwxrwx", "uid": -1}]
    assert data["metadataTest"]["workdir"] == ""  # as written
    assert load_spec(target) is not None  # and still one of ours


@pytest.mark.parametrize("name", ["apacheinit", "testrfs"])
def test_the_repository_specs_export_without_our_keys(tmp_path: Path, name: str) -> None:
    spec = load_spec(SPECS / f"{name}.yaml")
    data, left_out = cst_part(spec)
    assert left_out == []
    assert set(data) <= {"schemaVersion", "commandTests", "fileExistenceTests", "fileContentTests", "metadataTest"}
    assert all("symlinkTo" not in test for test in data.get("fileExistenceTests", []))
