"""Smoke specs: container-structure-test's field names, plus checks against the real running CMD.

CST sections (``schemaVersion``, ``commandTests``, ``fileExistenceTests``, ``fileContentTests``,
``metadataTest``) keep their names and meaning, so existing files work. Our additions test what
CST cannot: the image's own CMD running as PID 1 — ``http``, ``processes``, ``pid1``,
``hostKernel``, ``logs``, ``interactive``, ``stop`` — plus ``sizeBudget`` and ``container``
run options (read-only root, dropped capabilities).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from rootfs_ci.errors import ConfigError
from rootfs_ci.validation import StrictModel, load_yaml, validate

SCHEMA_VERSIONS = ("2.0.0",)
COMMAND_TIMEOUT = 60.0  # CST has no per-command limit; ours, as for `fresh` checks before


def _regexes(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression ({exc})") from None
    return values


class EnvVar(StrictModel):
    key: str
    value: str


class CommandTest(StrictModel):
    name: str
    command: str
    args: tuple[str, ...] = ()
    envVars: tuple[EnvVar, ...] = ()
    expectedOutput: tuple[str, ...] = ()
    excludedOutput: tuple[str, ...] = ()
    expectedError: tuple[str, ...] = ()
    excludedError: tuple[str, ...] = ()
    exitCode: int = 0
    fresh: bool = Field(False, description="run in a new container whose command overrides CMD (CST's way)")
    timeoutSeconds: float = Field(
        COMMAND_TIMEOUT, gt=0, description="ours: the check fails if the command has not exited by then"
    )

    _check_regexes = field_validator("expectedOutput", "excludedOutput", "expectedError", "excludedError")(_regexes)


class FileExistenceTest(StrictModel):
    name: str
    path: str
    shouldExist: bool = True
    permissions: str | None = None
    uid: int | None = None
    gid: int | None = None
    isExecutableBy: Literal["any", "owner", "group", "other"] | None = None
    symlinkTo: str | None = Field(None, description="ours: the path is a symlink with this target")


class FileContentTest(StrictModel):
    name: str
    path: str
    expectedContents: tuple[str, ...] = ()
    excludedContents: tuple[str, ...] = ()

    _check_regexes = field_validator("expectedContents", "excludedContents")(_regexes)


class LabelTest(StrictModel):
    key: str
    value: str
    isRegex: bool = False


class MetadataTest(StrictModel):
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    exposedPorts: tuple[str, ...] | None = None
    unexposedPorts: tuple[str, ...] = ()
    labels: tuple[LabelTest, ...] = ()
    envVars: tuple[EnvVar, ...] = ()
    workdir: str | None = None
    user: str | None = None


class HttpCheck(StrictModel):
    name: str
    path: str = "/"
    port: int | None = Field(None, description="container port (default: the first exposed one)")
    status: int = 200
    body: str | None = Field(None, description="regex the body must match")
    headers: dict[str, str] = Field({}, description="header -> regex its value must match")

    _check_regexes = field_validator("body")(lambda value: _regexes((value,))[0] if value else value)


class ProcessCheck(StrictModel):
    name: str
    command: str = Field(description="regex matched against each process's command line")
    parentCommand: str | None = Field(None, description="only processes whose parent's command line matches")
    minCount: int = 1
    maxCount: int | None = None
    user: str | None = Field(None, description="every match runs as this user (name from the image's /etc/passwd)")
    notRoot: bool = Field(False, description="no match runs as uid 0")


class Pid1Check(StrictModel):
    command: str = Field(description="regex the command line of PID 1 must match")


class LogCheck(StrictModel):
    name: str
    expected: tuple[str, ...] = Field(description="regexes the container's stdout+stderr must match")
    timeoutSeconds: float = Field(
        5.0, gt=0, description="seconds to wait for the lines: the engine writes logs asynchronously"
    )

    _check_regexes = field_validator("expected")(_regexes)


class InteractiveCheck(StrictModel):
    name: str
    input: str = Field(description="typed into a TTY attached to a fresh container running CMD")
    expectedOutput: tuple[str, ...]
    timeoutSeconds: float = Field(15.0, gt=0)

    _check_regexes = field_validator("expectedOutput")(_regexes)


class StopCheck(StrictModel):
    maxSeconds: float = Field(10.0, description="docker stop must return within this")
    exitCode: int | None = Field(0, description="exit code after the stop (null: any)")


class SizeBudget(StrictModel):
    rootfsBytes: int | None = Field(None, description="max uncompressed rootfs tar bytes")
    layerBytes: int | None = Field(None, description="max compressed layer bytes")


class ContainerOptions(StrictModel):
    stdinOpen: bool = Field(False, description="keep stdin open (docker run -i), e.g. for CMD /bin/sh")
    readOnly: bool = Field(False, description="read-only root file system (docker run --read-only)")
    tmpfs: dict[str, str] = Field({}, description="mount point -> tmpfs options")
    capDrop: tuple[str, ...] = ()
    capAdd: tuple[str, ...] = ()
    user: str | None = None
    readinessTimeout: float = Field(15.0, description="seconds to wait until the container serves")


class Spec(StrictModel):
    schemaVersion: str
    container: ContainerOptions = Field(default_factory=ContainerOptions)
    metadataTest: MetadataTest | None = None
    sizeBudget: SizeBudget | None = None
    fileExistenceTests: tuple[FileExistenceTest, ...] = ()
    fileContentTests: tuple[FileContentTest, ...] = ()
    pid1: Pid1Check | None = None
    hostKernel: bool = False
    processes: tuple[ProcessCheck, ...] = ()
    commandTests: tuple[CommandTest, ...] = ()
    http: tuple[HttpCheck, ...] = ()
    logs: tuple[LogCheck, ...] = ()
    interactive: tuple[InteractiveCheck, ...] = ()
    stop: StopCheck | None = None

    @field_validator("schemaVersion")
    @classmethod
    def _known_schema(cls, value: str) -> str:
        if value not in SCHEMA_VERSIONS:
            raise ValueError(f"schemaVersion {value!r} is not supported; use {', '.join(SCHEMA_VERSIONS)}")
        return value


def load_spec(path: Path) -> Spec:
    """Parse and validate a spec file; problems are one line with file:line and the key."""
    try:
        data = load_yaml(path)
    except FileNotFoundError:
        raise ConfigError(f"smoke spec {path} does not exist; write it or pass another --spec") from None
    except OSError as exc:
        raise ConfigError(f"smoke spec {path} cannot be read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: a smoke spec is a mapping with at least schemaVersion: 2.0.0")
    return validate(Spec, data, path)
