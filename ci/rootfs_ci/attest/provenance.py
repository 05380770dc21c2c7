"""The in-toto Statement v1 with SLSA v1 provenance for one image: what it says, gathered from the stage
records, the project and the CI environment.

Same records, project and environment -> same bytes: no wall-clock time goes in (the build's time is
SOURCE_DATE_EPOCH, from rootfs.json), keys are sorted, JSON is canonical.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rootfs_ci import __version__
from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import tree_listing
from rootfs_ci.gitinfo import revision, source_url
from rootfs_ci.image.oci import canonical_json
from rootfs_ci.records import ImageRecord, RootfsRecord

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
MEDIA_TYPE = "application/vnd.in-toto+json"
BUILD_TYPE = "urn:rootfs-ci:build:v1"
REVISION_LABEL = "org.opencontainers.image.revision"
SOURCE_LABEL = "org.opencontainers.image.source"


@dataclass(frozen=True)
class Source:
    """The git repository and commit the image was built from, and the CI run that built it (if any)."""

    repository: str
    commit: str
    run: str = ""
    workflow: str = ""


def build_source(image: ImageRecord, project_dir: Path, environ: Mapping[str, str]) -> Source:
    """The commit and repository the image's labels name (the build's own), else GitHub's, else git's."""
    github = environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_REPOSITORY")
    server = environ.get("GITHUB_SERVER_URL", "https://github.com")
    repository = image.labels.get(SOURCE_LABEL) or (f"{server}/{github}" if github else source_url(project_dir))
    commit = image.labels.get(REVISION_LABEL) or (environ.get("GITHUB_SHA", "") if github else revision(project_dir))
    run = ""
    if github and environ.get("GITHUB_RUN_ID"):
        attempt = environ.get("GITHUB_RUN_ATTEMPT", "1")
        run = f"{server}/{github}/actions/runs/{environ['GITHUB_RUN_ID']}/attempts/{attempt}"
    return Source(repository, commit, run, environ.get("GITHUB_WORKFLOW_REF", "") if github else "")


def overlay_digest(project_dir: Path, overlay: str) -> str:
    """sha256 of an overlay tree's listing (paths, kinds, contents, exec bits, link targets)."""
    root = project_dir / overlay
    if not root.exists():
        raise ConfigError(
            f"overlay {overlay!r} that rootfs.json names is not under {project_dir}; publish from the checkout "
            "the image was built from"
        )
    digest = hashlib.sha256()
    for line in tree_listing(root):
        digest.update(line + b"\n")
    return digest.hexdigest()


def _dependencies(rootfs: RootfsRecord, project_dir: Path, source: Source) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if source.commit:
        where = {"uri": f"git+{source.repository}@{source.commit}"} if source.repository else {"name": "source"}
        found.append({**where, "digest": {"gitCommit": source.commit}})
    buildroot = rootfs.buildroot or {}
    if buildroot.get("defconfig_sha256"):
        name = f"defconfig:{buildroot.get('defconfig', '')}"
        found.append({"name": name, "digest": {"sha256": buildroot["defconfig_sha256"]}})
    for overlay in rootfs.overlays:
        found.append({"name": f"overlay:{overlay}", "digest": {"sha256": overlay_digest(project_dir, overlay)}})
    found.append({"name": rootfs.rootfs.path, "digest": {"sha256": rootfs.rootfs.sha256}})
    return found


def _parameters(rootfs: RootfsRecord) -> dict[str, Any]:
    """What pins the rootfs' contents: the Buildroot commit, or the package lock (issue #15's lock_digest)."""
    internal: dict[str, Any] = {"source_date_epoch": rootfs.source_date_epoch, "tool": rootfs.tool}
    buildroot = rootfs.buildroot or {}
    if buildroot.get("commit"):
        internal["buildroot"] = {"version": buildroot.get("version", ""), "commit": buildroot["commit"]}
    lock_digest = getattr(rootfs, "lock_digest", None)
    if lock_digest:
        internal["lock_digest"] = lock_digest
    return internal


def _sbom_byproduct(rootfs: RootfsRecord) -> dict[str, Any]:
    return {"name": rootfs.sbom.path, "mediaType": rootfs.sbom.media_type, "digest": {"sha256": rootfs.sbom.sha256}}


def statement(subject: str, digest: str, rootfs: RootfsRecord, project_dir: Path, source: Source) -> dict[str, Any]:
    """The in-toto statement that ``subject@digest`` (NAME, a sha256 manifest digest) was built as recorded."""
    external: dict[str, Any] = {
        "image": rootfs.image,
        "arch": rootfs.arch,
        "backend": rootfs.backend,
        "source": {"repository": source.repository, "commit": source.commit},
    }
    if source.workflow:
        external["workflow"] = source.workflow
    # No startedOn/finishedOn: they would be wall-clock times; the build's time is source_date_epoch.
    metadata: dict[str, Any] = {"invocationId": source.run} if source.run else {}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject, "digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": _parameters(rootfs),
                "resolvedDependencies": _dependencies(rootfs, project_dir, source),
            },
            "runDetails": {
                "builder": {"id": f"pkg:generic/rootfs-ci@{__version__}", "version": {"rootfs-ci": __version__}},
                "metadata": metadata,
                "byproducts": [_sbom_byproduct(rootfs)],
            },
        },
    }


def statement_bytes(statement_json: Mapping[str, Any]) -> bytes:
    return canonical_json(statement_json)
