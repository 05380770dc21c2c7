"""``rootfs-ci init``: write a working starter project (one image, its overlay, spec and CI) into a directory."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from rootfs_ci.config import IMAGE_NAME
from rootfs_ci.config.names import MIRROR_URL
from rootfs_ci.errors import ConfigError
from rootfs_ci.versioning import __version__, source_commit

TEMPLATE_SUFFIX = ".tmpl"
DEFAULT_WORKFLOW_REPO = "rootfs-ci/rootfs-ci"


@dataclass(frozen=True)
class StarterFile:
    path: PurePosixPath  # relative to the project
    text: str

    @property
    def executable(self) -> bool:
        return self.text.startswith("#!")


def workflow_repository() -> str:
    """OWNER/REPO of rootfs-ci on GitHub, from the package's Source URL."""
    try:
        urls = metadata.metadata("rootfs-ci").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "source" and "github.com/" in url:
            return str(url.strip().split("github.com/", 1)[1].strip("/"))
    return DEFAULT_WORKFLOW_REPO


def workflow_ref() -> tuple[str, str | None]:
    """(ref, warning): the commit this rootfs-ci was built from with its version, as lint wants pins."""
    commit = source_commit()
    if commit:
        return f"{commit} # v{__version__}", None
    return f"v{__version__}", (
        f"rootfs-ci {__version__} does not know the commit it was built from; "
        "pin the reusable workflow in .github/workflows/ci.yml by its commit SHA"
    )


def _templates(root: Traversable, prefix: PurePosixPath | None = None) -> list[tuple[PurePosixPath, str]]:
    prefix = prefix or PurePosixPath()
    found = []
    for entry in root.iterdir():
        if entry.is_dir():
            found += _templates(entry, prefix / entry.name)
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            found.append((prefix / entry.name.removesuffix(TEMPLATE_SUFFIX), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _target(path: PurePosixPath, image: str) -> PurePosixPath:
    if path.parts[0] == "github":  # kept without its dot in the package: package data skips dot dirs
        path = PurePosixPath(".github", *path.parts[1:])
    if path == PurePosixPath("tests/smoke/image.yaml"):
        path = path.with_name(f"{image}.yaml")
    return path


SECURITY_HINT = (
    "  # bookworm-security's fixes come from the security archive (or: ROOTFS_CI_DEBIAN_SECURITY_MIRROR)\n"
    "  #   security_mirror: http://HOST/debian-security"
)


def _debian_sources(mirror: str) -> str:
    """The starter's rootfs_ci.debian_sources: the mirror when one is given, else how to give one;
    then how to give the security archive's."""
    if not mirror:
        return (
            "  # Where the debian backend fetches the .debs that rootfs-ci.lock pins (or: ROOTFS_CI_DEBIAN_MIRROR)\n"
            "  # debian_sources:\n"
            "  #   mirror: http://HOST/debian\n"
        ) + SECURITY_HINT
    if not MIRROR_URL.fullmatch(mirror):
        raise ConfigError(f"--debian-mirror {mirror!r} is not an http(s) URL; give e.g. http://HOST/debian")
    return (
        f"  debian_sources:\n    mirror: {mirror}\n"
        "    # bookworm-security's fixes come from the security archive (or: ROOTFS_CI_DEBIAN_SECURITY_MIRROR)\n"
        "    # security_mirror: http://HOST/debian-security"
    )


def starter_files(image: str, workflow_repo: str, ref: str, debian_mirror: str = "") -> list[StarterFile]:
    if not IMAGE_NAME.fullmatch(image):
        raise ConfigError(f"image name {image!r} must be lowercase letters, digits and . _ -; pick another --image")
    values = {
        "@IMAGE@": image,
        "@WORKFLOW_REPO@": workflow_repo,
        "@WORKFLOW_REF@": ref,
        "@DEBIAN_SOURCES@": _debian_sources(debian_mirror),
    }
    files = []
    for path, template in _templates(resources.files("rootfs_ci") / "starter"):
        text = template
        for token, value in values.items():
            text = text.replace(token, value)
        files.append(StarterFile(_target(path, image), text))
    return files


def write_starter(directory: Path, files: list[StarterFile], force: bool = False) -> list[Path]:
    """Write ``files`` under ``directory``; refuse (writing nothing) if any exists, unless ``force``."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is not a directory; pass a directory to init")
    existing = [str(file.path) for file in files if (directory / file.path).exists()]
    if existing and not force:
        raise ConfigError(f"init would overwrite {', '.join(existing)} in {directory}; move them away or pass --force")
    written = []
    for file in files:
        target = directory / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.text, encoding="utf-8")
        target.chmod(0o755 if file.executable else 0o644)
        written.append(target)
    return written
