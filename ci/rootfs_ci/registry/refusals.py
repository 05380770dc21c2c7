"""The one-line errors for a registry's refusals: missing or rejected credentials, missing rights, odd answers.

They name the registry and the credentials' description (never the secret itself) and say what to fix.
"""

from __future__ import annotations

import requests

from rootfs_ci.errors import RegistryError
from rootfs_ci.registry.answers import detail, error_codes
from rootfs_ci.registry.auth import SET_VARS_HINT, Credentials, parse_challenge

_UPLOAD_LOST = frozenset({"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"})


class UploadLost(RegistryError):
    """The registry dropped an upload session (e.g. after a connection broke mid-chunk); start again."""


def needs_credentials(host: str, credentials_note: str, what: str) -> RegistryError:
    note = credentials_note or SET_VARS_HINT.replace("HOST", host)
    return RegistryError(f"{host} needs credentials for {what}: {note}")


def denied(host: str, credentials: Credentials | None, what: str, response: requests.Response) -> RegistryError:
    """A 403: the credentials (or anonymous access) lack the rights."""
    return RegistryError(
        f"{host} denied {what} (403{': ' + detail(response) if detail(response) else ''}); "
        f"the {credentials or 'anonymous access'} lacks the rights for it"
    )


def rejected(
    host: str, credentials: Credentials | None, credentials_note: str, what: str, response: requests.Response
) -> RegistryError:
    """A 401 after authenticating: too few rights, no credentials, or wrong ones."""
    challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
    if challenge is not None and challenge.error == "insufficient_scope":
        return RegistryError(
            f"{host} refused {what}: the {credentials or 'anonymous access'} lacks the rights "
            f"for it ({challenge.params.get('scope', 'insufficient_scope')})"
        )
    if credentials is None:
        return needs_credentials(host, credentials_note, what)
    return RegistryError(
        f"{host} rejected the {credentials} ({response.status_code} for {what}); "
        "check the user name and password or token"
    )


def unexpected(host: str, method: str, what: str, response: requests.Response) -> RegistryError:
    """A status the request does not expect; UploadLost when the registry lost the upload session."""
    said = detail(response)
    codes = {code for code, _ in error_codes(response)}
    error_type = UploadLost if codes & _UPLOAD_LOST or response.status_code == 416 else RegistryError
    return error_type(
        f"{host} answered {response.status_code} {response.reason} to {method} for {what}{': ' + said if said else ''}"
    )
