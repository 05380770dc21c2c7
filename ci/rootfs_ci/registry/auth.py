"""Registry credentials and auth challenges; secrets never appear in repr, str, messages or logs.

Credentials come from, in order: ROOTFS_CI_REGISTRY_USER / ROOTFS_CI_REGISTRY_PASSWORD, GITHUB_ACTOR /
GITHUB_TOKEN (for ghcr.io only), then the ``auths`` of ~/.docker/config.json ($DOCKER_CONFIG). Credential
helpers (``credsStore``, ``credHelpers``) are not run; when only a helper is configured the lookup says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rootfs_ci.errors import ConfigError
from rootfs_ci.registry.target import DOCKER_HUB

USER_VAR = "ROOTFS_CI_REGISTRY_USER"
PASSWORD_VAR = "ROOTFS_CI_REGISTRY_PASSWORD"  # noqa: S105 (a variable name, not a secret)
CA_FILE_VAR = "ROOTFS_CI_REGISTRY_CA_FILE"
GITHUB_HOSTS = ("ghcr.io",)
SET_VARS_HINT = f"set {USER_VAR} and {PASSWORD_VAR} (or run 'docker login HOST')"


@dataclass(frozen=True)
class Credentials:
    """A user name and a password or token. ``repr``/``str`` show where they came from, never the secret."""

    username: str = field(repr=False)
    password: str = field(repr=False)
    source: str

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __str__(self) -> str:
        return f"credentials from {self.source}"


@dataclass(frozen=True)
class CredentialLookup:
    """What was found for a host, and a note for the error message when nothing usable was."""

    credentials: Credentials | None
    note: str = ""


def docker_config_path(environ: Mapping[str, str]) -> Path:
    directory = environ.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


def _host_key(key: str) -> str:
    """'https://index.docker.io/v1/' -> 'index.docker.io'; 'ghcr.io' -> 'ghcr.io'."""
    key = key.strip().lower()
    key = key.split("://", 1)[1] if "://" in key else key
    return key.split("/", 1)[0]


def _same_host(key: str, host: str) -> bool:
    key = _host_key(key)
    return key == host or (key in DOCKER_HUB and host in DOCKER_HUB)


def _from_docker_config(host: str, path: Path) -> CredentialLookup:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return CredentialLookup(None)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # JSONDecodeError's text names a position, never the file's content.
        raise ConfigError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}); fix it or set {USER_VAR}/{PASSWORD_VAR}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object; fix it or set {USER_VAR}/{PASSWORD_VAR}")
    auths: Any = data.get("auths") or {}
    for key, entry in auths.items() if isinstance(auths, dict) else ():
        if not (_same_host(key, host) and isinstance(entry, dict)):
            continue
        credentials = _entry_credentials(entry, path, key)
        if credentials is not None:
            return CredentialLookup(credentials)
    helpers: Any = data.get("credHelpers") or {}
    helper = ""
    if isinstance(helpers, dict):
        helper = next((str(name) for key, name in helpers.items() if _same_host(key, host)), "")
    helper = helper or str(data.get("credsStore") or "")
    if helper:
        return CredentialLookup(
            None,
            f"{path} names the credential helper {helper!r} for {host}, which rootfs-ci does not run; "
            f"set {USER_VAR} and {PASSWORD_VAR} instead",
        )
    return CredentialLookup(None)


def _decode_auth(auth: str) -> tuple[str, str] | None:
    try:
        username, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, password) if sep and username else None


def _entry_credentials(entry: Mapping[str, Any], path: Path, key: str) -> Credentials | None:
    source = f"{path} (auths.{key})"
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        pair = _decode_auth(auth)
        if pair is None:
            raise ConfigError(f"{path}: auths.{key}.auth is not base64 of 'user:password'; run 'docker login' again")
        return Credentials(pair[0], pair[1], source)
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username and password:
        return Credentials(username, password, source)
    return None


def find_credentials(host: str, environ: Mapping[str, str] | None = None) -> CredentialLookup:
    """Credentials for ``host`` (as written in the target, e.g. 'ghcr.io' or '127.0.0.1:5000')."""
    environ = os.environ if environ is None else environ
    host = host.lower()
    user, password = environ.get(USER_VAR, ""), environ.get(PASSWORD_VAR, "")
    if bool(user) != bool(password):
        missing = PASSWORD_VAR if user else USER_VAR
        raise ConfigError(f"{USER_VAR if user else PASSWORD_VAR} is set but {missing} is not; set both or neither")
    if user:
        return CredentialLookup(Credentials(user, password, f"{USER_VAR}/{PASSWORD_VAR}"))
    actor, token = environ.get("GITHUB_ACTOR", ""), environ.get("GITHUB_TOKEN", "")
    if host in GITHUB_HOSTS and actor and token:
        return CredentialLookup(Credentials(actor, token, "GITHUB_ACTOR/GITHUB_TOKEN"))
    return _from_docker_config(host, docker_config_path(environ))


_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header: scheme ('bearer' or 'basic') and its parameters."""

    scheme: str
    params: Mapping[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.params.get("scope", "").split())

    @property
    def error(self) -> str:
        return self.params.get("error", "")


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a WWW-Authenticate header (registries send one)."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {key.lower(): quoted if quoted else bare for key, quoted, bare in _PARAM.findall(rest)}
    return Challenge(scheme.lower(), params)


def merge_scopes(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Union of 'repository:NAME:a,b' scopes, one entry per resource, actions merged and sorted."""
    merged: dict[str, set[str]] = {}
    for group in groups:
        for scope in group:
            resource, _, actions = scope.rpartition(":")
            if not resource:
                merged.setdefault(scope, set())
                continue
            merged.setdefault(resource, set()).update(a for a in actions.split(",") if a)
    return tuple(
        sorted(
            f"{resource}:{','.join(sorted(actions))}" if actions else resource for resource, actions in merged.items()
        )
    )
