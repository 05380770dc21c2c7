"""The ``rootfs_ci`` key of invoke.yaml as pydantic models: every setting, its type, default and meaning."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rootfs_ci.arch import ArchName, choices
from rootfs_ci.config.names import (
    APPLET,
    ARCHIVE_NAME,
    DEBIAN_PACKAGE,
    GIT_TAG,
    IMAGE_NAME,
    MIRROR_URL,
    NOT_AN_OPTION,
    ROOTFS_PATH,
    SNAPSHOT_TIME,
    SONAME,
    each_matches,
)
from rootfs_ci.rootfs.apache import HttpdOptions
from rootfs_ci.validation import StrictModel

DEFAULT_MAX_ROOTFS_BYTES = 512 * 1024 * 1024
DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
LOCK_FILE = "rootfs-ci.lock"


def _check_sources(values: dict[str, object]) -> None:
    """The shared checks of DebianSources and DebianSourcesOverride."""
    suites, components = values.get("suites"), values.get("components")
    if isinstance(suites, tuple):
        if not suites:
            raise ValueError("suites needs at least one Debian suite, e.g. [bookworm, bookworm-updates]")
        each_matches(suites, ARCHIVE_NAME, "Debian suite", "bookworm")
    security_suite = values.get("security_suite")
    if isinstance(security_suite, str) and security_suite:
        each_matches([security_suite], ARCHIVE_NAME, "Debian suite", "bookworm-security")
    if isinstance(components, tuple):
        if not components:
            raise ValueError("components needs at least one archive component, e.g. [main]")
        each_matches(components, ARCHIVE_NAME, "archive component", "main")
    for key in ("mirror", "security_mirror", "snapshot_mirror"):
        url = values.get(key)
        if isinstance(url, str) and url:
            each_matches([url], MIRROR_URL, f"{key} URL", "http://HOST/debian")
    snapshot = values.get("snapshot")
    if isinstance(snapshot, str) and snapshot:
        each_matches([snapshot], SNAPSHOT_TIME, "snapshot timestamp", "20250520T000000Z")


class DebianSources(StrictModel):
    """Where the debian backend resolves and fetches packages (the host's apt is never used)."""

    suites: tuple[str, ...] = Field(
        ("bookworm", "bookworm-updates"),
        description="suites resolved on the mirror; the newest version across all suites (and security) wins",
    )
    components: tuple[str, ...] = Field(("main",), description="archive components searched, in order")
    mirror: str = Field(
        "", description="archive URL (transport only: the lock's sha256s decide); else $ROOTFS_CI_DEBIAN_MIRROR"
    )
    security_suite: str = Field(
        "bookworm-security", description="suite resolved on security_mirror, as a stock Debian install does ('': none)"
    )
    security_mirror: str = Field(
        "", description="the Debian security archive's URL; else $ROOTFS_CI_DEBIAN_SECURITY_MIRROR"
    )
    snapshot: str = Field("", description="resolve from a snapshot archive at this time, e.g. 20250520T000000Z")
    snapshot_mirror: str = Field(
        "", description="snapshot archive URL prefix (SNAPSHOT is appended); else $ROOTFS_CI_DEBIAN_SNAPSHOT_MIRROR"
    )
    keyring: str = Field(DEFAULT_KEYRING, description="keyring gpgv verifies InRelease with")

    @model_validator(mode="after")
    def _valid(self) -> DebianSources:
        _check_sources(dict(self))
        return self


class DebianSourcesOverride(StrictModel):
    """One image's departures from rootfs_ci.debian_sources (unset keys inherit it)."""

    suites: tuple[str, ...] | None = Field(None, description="see rootfs_ci.debian_sources.suites")
    components: tuple[str, ...] | None = Field(None, description="see rootfs_ci.debian_sources.components")
    mirror: str | None = Field(None, description="see rootfs_ci.debian_sources.mirror")
    security_suite: str | None = Field(None, description="see rootfs_ci.debian_sources.security_suite")
    security_mirror: str | None = Field(None, description="see rootfs_ci.debian_sources.security_mirror")
    snapshot: str | None = Field(None, description="see rootfs_ci.debian_sources.snapshot")
    snapshot_mirror: str | None = Field(None, description="see rootfs_ci.debian_sources.snapshot_mirror")
    keyring: str | None = Field(None, description="see rootfs_ci.debian_sources.keyring")

    @model_validator(mode="after")
    def _valid(self) -> DebianSourcesOverride:
        _check_sources(dict(self))
        return self


class DebianOptions(StrictModel):
    packages: tuple[str, ...] = Field((), description="Debian binary packages, pinned in the lock file")
    sources: DebianSourcesOverride = Field(
        default_factory=DebianSourcesOverride, description="this image's package sources (see debian_sources)"
    )
    files: dict[str, str] = Field({}, description="Debian path -> rootfs path; ELF files here are closure roots")
    dlopen: tuple[str, ...] = Field((), description="sonames loaded at run time that no DT_NEEDED names")
    busybox_links: bool = Field(True, description="link busybox applets that no other file provides")
    busybox_applets: tuple[str, ...] = Field(
        (), description="link only these applets (empty: every one busybox offers)"
    )
    httpd: HttpdOptions | None = Field(None, description="apache mapping (see debian.httpd.*)")

    @field_validator("packages")
    @classmethod
    def _package_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        each_matches(value, DEBIAN_PACKAGE, "Debian package name: lowercase letters, digits, + . -", "libc6")
        return value

    @field_validator("dlopen")
    @classmethod
    def _sonames(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        each_matches(value, SONAME, "soname", "libgcc_s.so.1")
        return value

    @field_validator("busybox_applets")
    @classmethod
    def _applets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        each_matches(value, APPLET, "busybox applet name", "ls")
        return value

    @field_validator("files")
    @classmethod
    def _absolute_paths(cls, value: dict[str, str]) -> dict[str, str]:
        each_matches([*value, *value.values()], ROOTFS_PATH, "absolute path without control characters", "/bin/sh")
        return value


class BuildrootOptions(StrictModel):
    defconfig: str = Field(
        "",
        description="defconfig in buildroot-config/configs/, {arch} replaced "
        "(default: IMAGE_defconfig; IMAGE_ARCH_defconfig for the other platforms)",
    )

    @field_validator("defconfig")
    @classmethod
    def _defconfig_name(cls, value: str) -> str:
        if value:
            each_matches([value], NOT_AN_OPTION, "defconfig file name", "tiny_{arch}_defconfig")
        return value


class ImageConfig(StrictModel):
    description: str = Field("", description="org.opencontainers.image.description label")
    backend: Literal["debian", "buildroot"] = Field("debian", description="rootfs backend")
    platforms: tuple[ArchName, ...] = Field(("x86_64",), description="architectures to build")
    overlays: tuple[str, ...] = Field(
        (), description="overlay dirs copied on top of the rootfs, in order (inside the project)"
    )
    max_rootfs_bytes: int = Field(
        DEFAULT_MAX_ROOTFS_BYTES, gt=0, description="build fails before writing a rootfs.tar larger than this"
    )
    cmd: tuple[str, ...] = Field(("/bin/sh",), description="image CMD (exec form)")
    ports: tuple[int, ...] = Field((), description="exposed TCP ports")
    labels: dict[str, str] = Field({}, description="extra image labels")
    permissions: dict[str, str] = Field({}, description="rootfs path -> octal mode (e.g. '0600')")
    smoke_spec: str = Field(
        "", description="smoke spec file, relative to the project (default: tests/smoke/IMAGE.yaml)"
    )
    debian: DebianOptions = Field(default_factory=DebianOptions, description="debian backend options")
    buildroot: BuildrootOptions = Field(default_factory=BuildrootOptions, description="buildroot backend options")

    @field_validator("cmd")
    @classmethod
    def _cmd_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("cmd must name a program, e.g. ['/bin/sh']")
        return value

    @field_validator("ports")
    @classmethod
    def _ports_in_range(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for port in value:
            if not 0 < port < 65536:
                raise ValueError(f"port {port} is outside 1-65535")
        return value

    @field_validator("permissions")
    @classmethod
    def _octal_modes(cls, value: dict[str, str]) -> dict[str, str]:
        for path, mode in value.items():
            if ".." in PurePosixPath(path).parts:
                raise ValueError(f"permission rule {path} climbs out of the rootfs; use a path inside it")
            if not re.fullmatch(r"0?[0-7]{3,4}", mode):
                raise ValueError(f"mode {mode!r} for {path} is not octal like '0644'")
        return value

    @field_validator("platforms")
    @classmethod
    def _platforms_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"platforms needs at least one of {choices(', ')}")
        if len(set(value)) != len(value):
            raise ValueError("platforms lists an architecture twice")
        return value


DEFAULT_TAG_RULES = (
    "type=semver,pattern={{version}}",
    "type=semver,pattern={{major}}.{{minor}}",
    "type=semver,pattern={{major}}",
    "type=ref,event=branch",
    "type=sha",
)


class TagsConfig(StrictModel):
    """docker/metadata-action's line syntax and semantics."""

    rules: tuple[str, ...] = Field(DEFAULT_TAG_RULES, description="tag rules, one metadata-action line each")
    flavor: tuple[str, ...] = Field((), description="flavor lines: latest=auto/true/false, prefix=, suffix=")


class RegistryConfig(StrictModel):
    target: str = Field("127.0.0.1:5000", description="publish target HOST[:PORT][/NAMESPACE]")
    local_port: int = Field(5000, description="port of the embedded registry (invoke registry.up), on 127.0.0.1")
    local_storage: str = Field(".cache/rootfs-ci/registry", description="storage dir of the embedded registry")


class BuildrootConfig(StrictModel):
    """The pinned Buildroot source for the buildroot backend."""

    version: str = Field("2026.02.3", description="Buildroot release tag (2026.02.x LTS keeps apache's layout)")
    commit: str = Field(
        "679b9ead7620bbf193620d1ebf56f53c1764d37a", description="commit the tag must point at (verified)"
    )
    git_url: str = Field("https://gitlab.com/buildroot.org/buildroot.git", description="where to clone from")
    external: str = Field("buildroot-config", description="the BR2_EXTERNAL tree (relative to the project)")
    source_dir: str = Field(
        "",
        description="an existing Buildroot checkout at the pinned tag, used instead of cloning (offline builds)",
    )

    @field_validator("version")
    @classmethod
    def _tag_name(cls, value: str) -> str:
        each_matches([value], GIT_TAG, "Buildroot release tag", "2026.02.3")
        return value

    @field_validator("git_url")
    @classmethod
    def _url(cls, value: str) -> str:
        each_matches([value], NOT_AN_OPTION, "git URL (no leading '-', no spaces or control characters)", "https://...")
        return value


class RootfsCiConfig(StrictModel):
    project_dir: str = Field(".", description="project root; other paths are relative to it (tasks.py sets it)")
    default_image: str | None = Field(
        None, description="image used when --image is not given (default: the first image)"
    )
    dist_dir: str = Field("dist", description="where stage outputs and records go (relative to the project)")
    cache_dir: str = Field(".cache/rootfs-ci", description="download and build cache (relative to the project)")
    lock_file: str = Field(LOCK_FILE, description="the lock file pinning each image's inputs (relative to the project)")
    local_tag: str = Field("dev", description="tag of images loaded into the local engine")
    source_url: str = Field("", description="org.opencontainers.image.source (default: git remote origin)")
    images: dict[str, ImageConfig] = Field({}, description="images to build, by name")
    allow_external_overlays: bool = Field(
        False, description="allow overlays outside the project dir (absolute paths, '..', symlinks)"
    )
    tags: TagsConfig = Field(default_factory=TagsConfig, description="tag rules")
    registry: RegistryConfig = Field(default_factory=RegistryConfig, description="registry settings")
    buildroot: BuildrootConfig = Field(default_factory=BuildrootConfig, description="Buildroot source pin")
    debian_sources: DebianSources = Field(
        default_factory=DebianSources, description="package sources of the debian backend (images may override)"
    )

    @field_validator("images")
    @classmethod
    def _image_names(cls, value: dict[str, ImageConfig]) -> dict[str, ImageConfig]:
        for name in value:
            if not IMAGE_NAME.fullmatch(name):
                raise ValueError(f"image name {name!r} must be lowercase letters, digits and . _ -")
        return value
