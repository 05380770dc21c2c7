"""One exception hierarchy; the task boundary (tasks/boundary.py) turns it into one line and an exit code."""

from __future__ import annotations


class RootfsCiError(Exception):
    """Base of every error this tool reports to users.

    The message is one line that says what is wrong and how to fix it.
    """

    exit_code = 1


class ConfigError(RootfsCiError):
    """invoke.yaml (or a spec file) is malformed or names something that does not exist."""

    exit_code = 2


class BackendError(RootfsCiError):
    """A rootfs backend could not produce a rootfs (missing package, bad archive, ...)."""

    exit_code = 3


class EngineError(RootfsCiError):
    """The Docker engine is unreachable or refused an operation."""

    exit_code = 4


class ImageError(RootfsCiError):
    """The image could not be written or loaded."""

    exit_code = 5


class SmokeFailure(RootfsCiError):
    """A smoke check failed."""

    exit_code = 6


class RegistryError(RootfsCiError):
    """A registry refused or failed an operation."""

    exit_code = 7


class UnsafeArchiveError(BackendError):
    """An archive or overlay tried to write outside its staging directory."""
