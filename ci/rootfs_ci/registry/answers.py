"""Reading a registry's answers: error codes and details for messages, Retry-After, failure reasons, TLS trust."""

from __future__ import annotations

import email.utils
import os
import time

import requests

from rootfs_ci.errors import ConfigError
from rootfs_ci.registry.auth import CA_FILE_VAR


def error_codes(response: requests.Response) -> list[tuple[str, str]]:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return []
    return [(str(e.get("code", "")), str(e.get("message", ""))) for e in errors if isinstance(e, dict)]


def detail(response: requests.Response) -> str:
    codes = error_codes(response)
    if codes:
        text = "; ".join(f"{code}: {message}" if message else code for code, message in codes)
        return " ".join(text.split())[:300]
    text = response.text.strip() if response.request.method != "HEAD" else ""
    return text[:200] if text and "\n" not in text and not text.startswith("<") else ""


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def failure_reason(exc: Exception) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Name or service not known", "host name not found"),
        ("Failed to resolve", "host name not found"),
        ("Temporary failure in name resolution", "host name not found"),
        ("IncompleteRead", "response cut short"),
        ("Connection broken", "connection broken"),
        ("RemoteDisconnected", "connection closed without a response"),
        ("Connection reset", "connection reset"),
        ("Connection aborted", "connection aborted"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__


def ca_bundle(ca_file: str | None) -> str | bool:
    """TLS trust: ``ca_file``, then $ROOTFS_CI_REGISTRY_CA_FILE, $REQUESTS_CA_BUNDLE, else the system CAs."""
    for source, value in (
        ("ca_file", ca_file),
        (CA_FILE_VAR, os.environ.get(CA_FILE_VAR)),
        ("REQUESTS_CA_BUNDLE", os.environ.get("REQUESTS_CA_BUNDLE")),
    ):
        if value:
            if not os.path.isfile(value):
                raise ConfigError(f"{source}={value} is not a file; point it at a PEM CA bundle or unset it")
            return value
    return True
