"""Smoke spec parsing: CST field names accepted; bad specs are one line with file:line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from rootfs_ci.errors import ConfigError
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
    assert old in GOOD
    with pytest.raises(ConfigError) as caught:
        load_spec(write(tmp_path, GOOD.replace(old, new)))
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
