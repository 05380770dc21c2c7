"""An OCI distribution client on ``requests``: auth challenges, bounded retries, one-line errors.

Only what publishing needs: blob HEAD, monolithic and chunked upload, cross-repository mount,
manifest PUT/GET/HEAD and the tag list. Nothing here prints or logs a credential or a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from rootfs_ci.errors import RegistryError
from rootfs_ci.registry.answers import ca_bundle, detail, failure_reason, retry_after
from rootfs_ci.registry.auth import (
    CA_FILE_VAR,
    Challenge,
    Credentials,
    find_credentials,
    merge_scopes,
    parse_challenge,
)
from rootfs_ci.registry.refusals import UploadLost, denied, needs_credentials, rejected, unexpected
from rootfs_ci.registry.target import TARGET_KEY, RegistryTarget, is_loopback
from rootfs_ci.registry.transport import MAX_BODY, Bounds, Origin, Params, exchange, new_session, origin

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_CHUNK = 16 << 20

__all__ = ["DEFAULT_CHUNK", "RETRY_STATUSES", "RegistryClient", "UploadLost", "open_client"]


@dataclass
class _Token:
    value: str
    expires: float


class RegistryClient:
    """One registry: a session, the auth state (challenge, tokens per scope) and the retry policy."""

    def __init__(
        self,
        target: RegistryTarget,
        credentials: Credentials | None = None,
        *,
        credentials_note: str = "",
        ca_file: str | None = None,
        attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        timeout: float = 60.0,
        deadline: float = 60.0,
        max_body: int = MAX_BODY,
        chunk_size: int = DEFAULT_CHUNK,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target = target
        self.credentials = credentials
        self.credentials_note = credentials_note
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.timeout = timeout  # per socket read
        self.deadline = deadline  # per request, plus the time its upload may take (transport.MIN_UPLOAD_RATE)
        self.max_body = max_body
        self.chunk_size = chunk_size
        self.sleep = sleep
        # Proxy settings from the environment must not capture loopback traffic.
        self.session = new_session(trust_env=not target.loopback)
        self.verify = ca_bundle(ca_file)
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], _Token] = {}

    def __repr__(self) -> str:
        return f"RegistryClient({self.target}, {self.credentials or 'anonymous'})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> None:
        """GET /v2/: the registry answers and accepts our credentials (if it wants any)."""
        self.request("GET", "/v2/", scopes=(), expected=(200,), what="the API root /v2/")

    # -- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        scopes: tuple[str, ...],
        expected: tuple[int, ...],
        what: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        params: Params | None = None,
        max_body: int | None = None,
    ) -> requests.Response:
        """Send with auth and retries; return a response whose status is in ``expected``, else raise.

        ``max_body`` raises the cap on the answer's size (a blob) above the client's (a manifest's).
        """
        url = urljoin(self.target.base_url, url)
        authorization = self._authorization(scopes, fresh=False)
        sent = (method, url, headers, body, params, max_body)
        response = self._send_registry(*sent, authorization)
        if response.status_code == 401:
            challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if challenge is None or challenge.scheme not in ("basic", "bearer"):
                raise RegistryError(f"{self.target.host} refused {what} (401) without a usable auth challenge")
            retried = authorization
            self._challenge = challenge
            authorization = self._authorization(merge_scopes(scopes, challenge.scopes), fresh=True)
            if authorization is None:
                raise self._needs_credentials(what)
            if challenge.scheme == "basic" and authorization == retried:
                raise self._rejected(what, response)
            response = self._send_registry(*sent, authorization)
            if response.status_code == 401:
                raise self._rejected(what, response)
        if response.status_code == 403:
            raise denied(self.target.host, self.credentials, what, response)
        if response.status_code not in expected:
            raise unexpected(self.target.host, method, what, response)
        return response

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        params: Params | None = None,
        authorization: tuple[str, Origin] | None = None,
        label: str,
        hint: str,
        max_body: int | None = None,
    ) -> requests.Response:
        """One request with bounded retries on connection errors, 429 (Retry-After) and 5xx.

        A broken bound (body size, deadline, HTTPS -> HTTP) is not retried: transport.LimitExceeded.
        """
        cap = max(self.max_body, max_body or 0)
        bounds = Bounds(label, self.timeout, self.deadline, cap, self.verify, self.target.scheme == "https")
        failure = ""
        for attempt in range(1, self.attempts + 1):
            wait: float | None = None
            try:
                response = exchange(
                    self.session,
                    method,
                    url,
                    headers=headers or {},
                    body=body,
                    params=params,
                    authorization=authorization,
                    bounds=bounds,
                )
            except requests.exceptions.SSLError as exc:
                raise RegistryError(
                    f"TLS check failed for {label} ({failure_reason(exc)}); fix its certificate or point "
                    f"{CA_FILE_VAR} at the CA bundle that signed it"
                ) from None
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                failure = failure_reason(exc)
            except requests.exceptions.RequestException as exc:
                raise RegistryError(f"request to {label} failed: {type(exc).__name__}") from None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                wait = retry_after(response)
                if attempt == self.attempts:
                    said = detail(response)
                    raise RegistryError(
                        f"{label} answered {response.status_code} {response.reason} to {method} "
                        f"{urlsplit(url).path} {self.attempts} times{' (' + said + ')' if said else ''}; "
                        "try again later"
                    )
            if attempt < self.attempts:
                self.sleep(min(self.max_wait, wait if wait is not None else self.backoff * 2 ** (attempt - 1)))
        raise RegistryError(f"cannot reach {label}: {failure}; {hint}")

    def _send_registry(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        params: Params | None,
        max_body: int | None,
        authorization: str | None,
    ) -> requests.Response:
        """A request to the registry: its Authorization goes to the registry's own origin only."""
        hint = (
            f"start it with 'invoke registry.up' or fix {TARGET_KEY}"
            if self.target.loopback
            else f"check the network and {TARGET_KEY}"
        )
        return self._send(
            method,
            url,
            headers=headers,
            body=body,
            params=params,
            authorization=(authorization, origin(self.target.base_url)) if authorization else None,
            label=f"registry {self.target.host}",
            hint=hint,
            max_body=max_body,
        )

    # -- auth ---------------------------------------------------------------------------------

    def _authorization(self, scopes: tuple[str, ...], *, fresh: bool) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self.credentials.basic() if self.credentials else None
        return "Bearer " + self._token(challenge, scopes, fresh=fresh)

    def _token(self, challenge: Challenge, scopes: tuple[str, ...], *, fresh: bool) -> str:
        key = (challenge.realm, challenge.service, *scopes)
        cached = self._tokens.get(key)
        if cached is not None and not fresh and cached.expires > time.monotonic():
            return cached.value
        realm = challenge.realm
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(f"{self.target.host} sent a Bearer challenge without a usable realm URL")
        self._check_realm(parts.scheme, parts.netloc)
        params: list[tuple[str, str]] = [("service", challenge.service)] if challenge.service else []
        params += [("scope", scope) for scope in scopes]
        # The token service gets the Basic credentials (never a registry token), and only at the realm's origin.
        response = self._send(
            "GET",
            realm,
            params=params,
            authorization=(self.credentials.basic(), origin(realm)) if self.credentials else None,
            label=f"the token service {parts.netloc} of {self.target.host}",
            hint="check the realm the registry names and the network",
        )
        if response.status_code in (401, 403):
            raise self._rejected(f"a token for {' '.join(scopes) or 'the registry'}", response)
        if response.status_code != 200:
            raise RegistryError(
                f"the token service {parts.netloc} answered {response.status_code} {response.reason}; try again later"
            )
        try:
            data: Any = response.json()
            value = str(data.get("token") or data.get("access_token") or "")
            lifetime = float(data.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            value, lifetime = "", 0.0
        if not value:
            raise RegistryError(f"the token service {parts.netloc} answered without a token")
        self._tokens[key] = _Token(value, time.monotonic() + max(lifetime * 0.9, 1.0))
        return value

    def _check_realm(self, scheme: str, netloc: str) -> None:
        """An HTTPS registry's token service must be HTTPS too. Credentials go over plain HTTP only to a
        loopback token service of a registry that was itself given as plain HTTP on loopback."""
        if scheme == "https":
            return
        cleartext_ok = self.target.scheme == "http" and self.target.loopback and is_loopback(netloc)
        if self.target.scheme == "https" or (self.credentials and not cleartext_ok):
            raise RegistryError(
                f"{self.target.host} names the token service http://{netloc} over plain HTTP; refused, credentials "
                "would travel in clear text (only a loopback registry given as plain HTTP may use a loopback one)"
            )

    def _needs_credentials(self, what: str) -> RegistryError:
        return needs_credentials(self.target.host, self.credentials_note, what)

    def _rejected(self, what: str, response: requests.Response) -> RegistryError:
        return rejected(self.target.host, self.credentials, self.credentials_note, what, response)


def open_client(target: RegistryTarget, environ: Mapping[str, str] | None = None, **options: Any) -> RegistryClient:
    """A client for ``target`` with the credentials the environment or ~/.docker/config.json give for it."""
    lookup = find_credentials(target.host, environ)
    return RegistryClient(target, lookup.credentials, credentials_note=lookup.note, **options)
