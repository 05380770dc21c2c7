"""Where to publish: ``HOST[:PORT][/NAMESPACE]`` parsed, plus the scheme rule (HTTP only on loopback)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from rootfs_ci.errors import ConfigError
from rootfs_ci.redaction import REDACTED

# The distribution spec's repository name and tag grammars; always used with fullmatch (a pattern
# ending in $ also matches before a trailing newline).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_HOST = re.compile(r"(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?")
TARGET_KEY = "rootfs_ci.registry.target"

# Docker Hub's names for itself; its API lives on registry-1.docker.io.
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def hostname(host: str) -> str:
    """'127.0.0.1:5000' -> '127.0.0.1', '[::1]:5000' -> '::1'."""
    if host.startswith("["):
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and the literal name 'localhost'; not '*.localhost', which a resolver may send anywhere."""
    name = hostname(host).lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RegistryTarget:
    """A registry host (with port) and an optional namespace under which images are pushed."""

    host: str
    namespace: str
    scheme: str

    @property
    def api_host(self) -> str:
        return "registry-1.docker.io" if self.host in DOCKER_HUB else self.host

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.api_host}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def repository(self, image: str) -> str:
        name = f"{self.namespace}/{image}" if self.namespace else image
        if self.host in DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        if not REPOSITORY.fullmatch(name):
            raise ConfigError(
                f"repository name {name!r} is not valid for a registry (lowercase letters, digits, . _ - and /); "
                f"fix {TARGET_KEY} or the image name"
            )
        return name

    def reference(self, repository: str, tag_or_digest: str) -> str:
        separator = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.host}/{repository}{separator}{tag_or_digest}"

    def __str__(self) -> str:
        return f"{self.host}/{self.namespace}" if self.namespace else self.host


# user:password@ or scheme://token@ in a text; 'name:tag@sha256:...' (a reference) is not credentials.
def _refuse_credentials(value: str) -> None:
    """A target never holds credentials (they would end up in records, logs and process lists)."""
    if "@" in value:
        scheme, separator, rest = value.strip().partition("://")
        shown = f"{scheme}{separator}" if separator else ""
        host = (rest if separator else scheme).rpartition("@")[2]
        raise ConfigError(
            f"registry target '{shown}{REDACTED}@{host}' holds credentials; give only HOST[:PORT][/NAMESPACE] in "
            f"{TARGET_KEY} or --registry, and the user and password in ROOTFS_CI_REGISTRY_USER and "
            "ROOTFS_CI_REGISTRY_PASSWORD (or 'docker login HOST')"
        )


def parse_target(value: str) -> RegistryTarget:
    """``HOST[:PORT][/NAMESPACE]``, optionally with ``https://`` (e.g. a loopback TLS registry in tests).

    Plain HTTP is only used for loopback hosts; everything else is HTTPS. Credentials in it are refused
    without being shown.
    """
    _refuse_credentials(value)
    text = value.strip().rstrip("/")
    scheme = ""
    if "://" in text:
        scheme, _, text = text.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ConfigError(f"registry target {value!r}: scheme {scheme!r} is not http or https; fix {TARGET_KEY}")
    host, _, namespace = text.partition("/")
    if not host or not _HOST.fullmatch(host):
        raise ConfigError(
            f"registry target {value!r} does not start with a host like ghcr.io or 127.0.0.1:5000; fix {TARGET_KEY}"
        )
    if namespace and not REPOSITORY.fullmatch(namespace):
        raise ConfigError(
            f"registry namespace {namespace!r} must be lowercase letters, digits, . _ - and / "
            f"(registries refuse uppercase); fix {TARGET_KEY}"
        )
    loopback = is_loopback(host)
    if not scheme:
        scheme = "http" if loopback else "https"
    elif scheme == "http" and not loopback:
        raise ConfigError(
            f"registry target {value!r}: plain HTTP is only allowed on loopback (127.0.0.0/8, localhost); "
            f"use https:// or drop the scheme in {TARGET_KEY}"
        )
    return RegistryTarget(host=host.lower(), namespace=namespace, scheme=scheme)


def check_tag(tag: str) -> str:
    if not TAG.fullmatch(tag):
        raise ConfigError(
            f"tag {tag!r} is not a valid image tag (letters, digits, _ . -, at most 128, not starting with . or -)"
        )
    return tag
