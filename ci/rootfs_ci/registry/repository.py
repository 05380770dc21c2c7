"""The repository operations of the OCI distribution API: blobs, uploads, mounts, manifests, tags."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

import requests

from rootfs_ci.errors import RegistryError
from rootfs_ci.image.oci import MEDIA_INDEX, MEDIA_MANIFEST
from rootfs_ci.registry.auth import merge_scopes
from rootfs_ci.registry.client import RegistryClient
from rootfs_ci.registry.refusals import UploadLost

MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((MEDIA_MANIFEST, MEDIA_INDEX, MEDIA_DOCKER_MANIFEST, MEDIA_DOCKER_LIST))


class BlobSource(Protocol):
    """A blob to upload, read in ranges so retries can resend any part."""

    @property
    def digest(self) -> str: ...

    @property
    def size(self) -> int: ...

    def read(self, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True)
class ManifestInfo:
    digest: str
    media_type: str
    size: int


def _media_type(body: bytes) -> str:
    """The mediaType a manifest or index declares in its JSON, or ''."""
    try:
        value = json.loads(body).get("mediaType")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


class Repository:
    """One repository on a registry, with the scope (pull, or pull+push) its token asks for."""

    def __init__(self, client: RegistryClient, name: str, *, push: bool = False) -> None:
        self.client = client
        self.name = name
        self.scopes = (f"repository:{name}:{'pull,push' if push else 'pull'}",)

    def __repr__(self) -> str:
        return f"Repository({self.client.target.host}/{self.name})"

    def _ref(self, reference: str) -> str:
        return f"{self.name}@{reference}" if reference.startswith("sha256:") else f"{self.name}:{reference}"

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        scopes = kwargs.pop("scopes", self.scopes)
        url = path if path.startswith("/") or "://" in path else f"/v2/{self.name}/{path}"
        return self.client.request(method, url, scopes=scopes, **kwargs)

    # -- blobs --------------------------------------------------------------------------------

    def blob_exists(self, digest: str) -> bool:
        response = self._request("HEAD", f"blobs/{digest}", expected=(200, 404), what=f"blob {digest}")
        return response.status_code == 200

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Cross-repository mount; False when the registry could not (then nothing is left open)."""
        response = self._request(
            "POST",
            "blobs/uploads/",
            params={"mount": digest, "from": from_repository},
            scopes=merge_scopes(self.scopes, (f"repository:{from_repository}:pull",)),
            expected=(201, 202),
            what=f"mounting {digest} from {from_repository}",
        )
        if response.status_code == 201:
            return True
        if response.headers.get("Location"):
            location = self._location(response, "mounting")
            self._request("DELETE", location, expected=(202, 204, 404), what="cancelling an unused upload")
        return False

    def upload_blob(self, blob: BlobSource) -> None:
        """Monolithic upload (POST, PUT ?digest=) up to the chunk size, chunked (PATCH ranges) above it."""
        for attempt in (1, 2):
            try:
                self._upload_once(blob)
                return
            except UploadLost:
                # A broken connection can make the registry drop the session; once more from the start.
                if attempt == 2:
                    raise
                if self.blob_exists(blob.digest):
                    return

    def _upload_once(self, blob: BlobSource) -> None:
        what = f"uploading blob {blob.digest}"
        response = self._request("POST", "blobs/uploads/", expected=(202,), what=what)
        location = self._location(response, what)
        if blob.size <= self.client.chunk_size:
            self._finish(location, blob.digest, blob.read(0, blob.size), what)
            return
        offset = 0
        while offset < blob.size:
            chunk = blob.read(offset, min(self.client.chunk_size, blob.size - offset))
            response = self._request(
                "PATCH",
                location,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                },
                body=chunk,
                expected=(202,),
                what=what,
            )
            location = self._location(response, what)
            offset += len(chunk)
        self._finish(location, blob.digest, b"", what)

    def _finish(self, location: str, digest: str, body: bytes, what: str) -> None:
        self._request(
            "PUT",
            location,
            params={"digest": digest},
            headers={"Content-Type": "application/octet-stream"},
            body=body,
            expected=(201,),
            what=what,
        )

    def _location(self, response: requests.Response, what: str) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.client.target.host} gave no upload Location while {what}")
        return urljoin(self.client.target.base_url, location)

    # -- manifests and tags -------------------------------------------------------------------

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest by digest or tag; returns the digest the registry computed."""
        return self.put_manifest_subject(reference, body, media_type)[0]

    def put_manifest_subject(self, reference: str, body: bytes, media_type: str) -> tuple[str, str]:
        """PUT a manifest; returns the digest the registry computed and its OCI-Subject header ('' when the
        registry did not index the manifest's ``subject`` itself: then the client keeps the referrers tag)."""
        response = self._request(
            "PUT",
            f"manifests/{reference}",
            headers={"Content-Type": media_type},
            body=body,
            expected=(201,),
            what=f"manifest {self._ref(reference)}",
        )
        digest = response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
        return digest, response.headers.get("OCI-Subject", "").strip()

    def referrers_index(self, digest: str, artifact_type: str | None = None) -> bytes | None:
        """The referrers API's image index for ``digest``; None when the registry has no referrers API (404)."""
        response = self._request(
            "GET",
            f"referrers/{digest}",
            headers={"Accept": MEDIA_INDEX},
            params={"artifactType": artifact_type} if artifact_type else None,
            expected=(200, 404),
            what=f"the referrers of {self._ref(digest)}",
        )
        return response.content if response.status_code == 200 else None

    def get_blob(self, digest: str, max_size: int) -> bytes:
        """A blob's bytes, at most ``max_size``; refused unless they hash to ``digest``."""
        response = self._request(
            "GET", f"blobs/{digest}", expected=(200, 404), what=f"blob {digest}", max_body=max_size
        )
        if response.status_code == 404:
            raise RegistryError(f"{self.client.target.host}/{self.name} has no blob {digest}")
        computed = "sha256:" + hashlib.sha256(response.content).hexdigest()
        if computed != digest:
            raise RegistryError(
                f"{self.client.target.host} sent blob bytes for {self.name}@{digest} that hash to {computed}; "
                "the registry or something between is altering content"
            )
        return response.content

    def head_manifest(self, reference: str) -> ManifestInfo | None:
        response = self._request(
            "HEAD",
            f"manifests/{reference}",
            headers={"Accept": MANIFEST_ACCEPT},
            expected=(200, 404),
            what=f"manifest {self._ref(reference)}",
        )
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest", "")
        if not digest:
            return self.get_manifest(reference)[1]
        return ManifestInfo(
            digest, response.headers.get("Content-Type", ""), int(response.headers.get("Content-Length") or 0)
        )

    def get_manifest(self, reference: str) -> tuple[bytes, ManifestInfo]:
        found = self.fetch_manifest(reference)
        if found is None:
            raise RegistryError(f"{self.client.target.host} has no manifest {self._ref(reference)}")
        return found

    def fetch_manifest(self, reference: str) -> tuple[bytes, ManifestInfo] | None:
        """The manifest's bytes (None on 404); its digest is always the hash of those bytes, never a header.

        A Docker-Content-Digest header that names other bytes, or a digest reference the bytes do not
        hash to, is refused.
        """
        response = self._request(
            "GET",
            f"manifests/{reference}",
            headers={"Accept": MANIFEST_ACCEPT},
            expected=(200, 404),
            what=f"manifest {self._ref(reference)}",
        )
        if response.status_code == 404:
            return None
        body = response.content
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = response.headers.get("Docker-Content-Digest", "").strip()
        for label, digest in (("the digest reference", reference), ("its Docker-Content-Digest", claimed)):
            if digest.startswith("sha256:") and digest != computed:
                raise RegistryError(
                    f"{self.client.target.host} sent manifest bytes for {self._ref(reference)} that hash to "
                    f"{computed}, not {label} {digest}; the registry or something between is altering content"
                )
        return body, ManifestInfo(computed, _media_type(body) or response.headers.get("Content-Type", ""), len(body))

    def tags(self, page_size: int | None = None) -> list[str]:
        """Every tag, following the Link: <...>; rel="next" pagination."""
        tags: list[str] = []
        url: str | None = f"/v2/{self.name}/tags/list"
        params = {"n": str(page_size)} if page_size else None
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            response = self._request("GET", url, params=params, expected=(200, 404), what=f"tags of {self.name}")
            if response.status_code == 404:
                return tags
            try:
                tags += list(response.json().get("tags") or [])
            except (ValueError, AttributeError):
                raise RegistryError(f"{self.client.target.host} sent an unreadable tag list for {self.name}") from None
            url, params = response.links.get("next", {}).get("url"), None
        return tags
