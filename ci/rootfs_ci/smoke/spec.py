"""Smoke specs: container-structure-test's v2 schema, plus checks against the real running CMD.

CST's fields (``schemaVersion``, ``globalEnvVars``, ``commandTests``, ``fileExistenceTests``,
``fileContentTests``, ``metadataTest``, ``licenseTests``) keep their names and CST's meaning, Go
regexes and empty-means-unchecked included (see rootfs_ci.smoke.golang and docs/smoke.md), so existing
files work and ``invoke smoke --export-cst`` gives CST a file it runs the same way. Our additions test
what CST cannot: the image's own CMD running as PID 1 -- ``http``, ``processes``, ``pid1``,
``hostKernel``, ``logs``, ``interactive``, ``stop`` -- plus ``sizeBudget`` and ``container`` run options.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rootfs_ci.errors import ConfigError
from rootfs_ci.smoke.golang import regex_error
from rootfs_ci.validation import StrictModel, load_yaml, validate

SCHEMA_VERSIONS = ("2.0.0",)
COMMAND_TIMEOUT = 60.0  # CST has no per-command limit; ours


def _regexes(values: tuple[str, ...]) -> tuple[str, ...]:
    """Python regexes: our own keys."""
    for value in values:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression ({exc})") from None
    return values


def _go_regexes(values: tuple[str, ...]) -> tuple[str, ...]:
    """Go regexes: CST's keys (CST fails a test whose regex Go cannot compile; we refuse the spec)."""
    for value in values:
        if (reason := regex_error(value)) is not None:
            raise ValueError(f"{value!r} is not a valid Go regular expression ({reason})")
    return values


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


class EnvVar(StrictModel):
    key: str
    value: str = ""

    _check_key = field_validator("key")(_non_empty)


class CommandEnvVar(EnvVar):
    """CST refuses a command test whose env var has an empty key or value."""

    _check_value = field_validator("value")(_non_empty)


class MetadataEnvVar(EnvVar):
    isRegex: bool = False

    @model_validator(mode="after")
    def _valid_regex(self) -> MetadataEnvVar:
        if self.isRegex:
            _go_regexes((self.value,))
        return self


class CommandTest(StrictModel):
    name: str
    command: str
    args: tuple[str, ...] = ()
    setup: tuple[tuple[str, ...], ...] = ()
    teardown: tuple[tuple[str, ...], ...] = Field((), description="accepted, never run: as CST's docker driver")
    envVars: tuple[CommandEnvVar, ...] = ()
    expectedOutput: tuple[str, ...] = ()
    excludedOutput: tuple[str, ...] = ()
    expectedError: tuple[str, ...] = ()
    excludedError: tuple[str, ...] = ()
    exitCode: int = 0
    exec: bool = Field(
        False, description="ours: run by docker exec in the container running CMD (CST: a new container)"
    )
    timeoutSeconds: float = Field(
        COMMAND_TIMEOUT, gt=0, description="ours: the check fails if the command has not exited by then"
    )

    _check_names = field_validator("name", "command")(_non_empty)
    _check_regexes = field_validator("expectedOutput", "excludedOutput", "expectedError", "excludedError")(_go_regexes)

    @field_validator("setup", "teardown")
    @classmethod
    def _no_empty_command(cls, commands: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        if any(not command for command in commands):
            raise ValueError("an empty command; remove it")
        return commands

    @model_validator(mode="after")
    def _setup_needs_a_new_container(self) -> CommandTest:
        if self.exec and self.setup:
            raise ValueError("setup runs in a new container, not with exec: true; drop one of them")
        return self


class FileExistenceTest(StrictModel):
    name: str
    path: str
    shouldExist: bool = True
    permissions: str = Field("", description="Go's FileMode string, e.g. -rwxr-xr-x, Lrwxrwxrwx; empty: unchecked")
    uid: int = Field(-1, description="-1: unchecked (CST's default)")
    gid: int = Field(-1, description="-1: unchecked (CST's default)")
    isExecutableBy: Literal["", "any", "owner", "group", "other"] = ""
    symlinkTo: str | None = Field(None, description="ours: the path is a symlink with this target")

    _check_names = field_validator("name", "path")(_non_empty)


class FileContentTest(StrictModel):
    name: str
    path: str
    expectedContents: tuple[str, ...] = ()
    excludedContents: tuple[str, ...] = ()

    _check_names = field_validator("name", "path")(_non_empty)
    _check_regexes = field_validator("expectedContents", "excludedContents")(_go_regexes)


class LabelTest(StrictModel):
    key: str
    value: str
    isRegex: bool = False

    _check_key = field_validator("key")(_non_empty)

    @model_validator(mode="after")
    def _valid_regex(self) -> LabelTest:
        if self.isRegex:
            _go_regexes((self.value,))
        return self


class MetadataTest(StrictModel):
    """CST's metadataTest: an empty value or list checks nothing; ``cmd``/``entrypoint`` compare whole
    lists when given (``[]``: must be empty); ``exposedPorts``/``volumes`` must each be present."""

    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    exposedPorts: tuple[str, ...] = ()
    unexposedPorts: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    unmountedVolumes: tuple[str, ...] = ()
    labels: tuple[LabelTest, ...] = ()
    envVars: tuple[MetadataEnvVar, ...] = ()
    unboundEnvVars: tuple[EnvVar, ...] = ()
    workdir: str = ""
    user: str = ""

    @field_validator("exposedPorts", "volumes")
    @classmethod
    def _no_empty_entry(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if "" in values:
            raise ValueError("an empty entry; remove it")
        return values


class LicenseTest(StrictModel):
    debian: bool = Field(False, description="every package under /usr/share/doc has a copyright file")
    files: tuple[str, ...] = Field((), description="license files that must not name AGPL or WTFPL")


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
    timeoutSeconds: float = Field(
        5.0,
        gt=0,
        description="seconds the process table may take to match: a CMD's workers start, and drop root, "
        "after it first answers",
    )


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
    globalEnvVars: tuple[EnvVar, ...] = ()
    licenseTests: tuple[LicenseTest, ...] = ()
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

    def needs_cmd_container(self) -> bool:
        """Whether a check needs the image's CMD running (CST's checks never do)."""
        runtime = (self.pid1, self.stop, self.http, self.processes, self.logs, self.interactive)
        return self.hostKernel or any(runtime) or any(test.exec for test in self.commandTests)

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
