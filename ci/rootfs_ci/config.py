"""Typed, validated configuration: the ``rootfs_ci`` key of invoke.yaml.

Every error names the file, the line, the dotted key and what to do about it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rootfs_ci.errors import ConfigError
from rootfs_ci.validation import error_at, load_yaml, validate

NAMESPACE = "rootfs_ci"
CONFIG_FILE = "invoke.yaml"

Arch = Literal["x86_64", "aarch64"]
IMAGE_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")  # always fullmatch: '$' would accept a final newline
DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")  # Debian policy 5.6.1
SONAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_+.-]*")
APPLET = re.compile(r"[A-Za-z0-9_\[][A-Za-z0-9_.\[\]-]*")
ROOTFS_PATH = re.compile(r"/[^\x00-\x1f\x7f]*")
GIT_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
NOT_AN_OPTION = re.compile(r"[^-\s][^\s\x00-\x1f\x7f]*")  # no leading "-", no spaces or controls
DEFAULT_MAX_ROOTFS_BYTES = 512 * 1024 * 1024


def _each_matches(values: Any, pattern: re.Pattern[str], what: str, example: str) -> None:
    for value in values:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what} (e.g. {example})")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HttpdOptions(_Strict):
    """Map Debian's apache2 into Buildroot's layout; modules come from the overlay's httpd.conf."""

    conf: str = Field(
        "/etc/apache2/httpd.conf",
        description="httpd.conf in the rootfs (from the overlay); its LoadModule lines pick modules",
    )
    modules_from: str = Field("/usr/lib/apache2/modules", description="where the Debian package keeps modules")
    server_root: str = Field("/usr", description="ServerRoot; relative LoadModule paths resolve against it")
    binary: str = Field("/usr/bin/httpd", description="rootfs path of the httpd binary")
    apachectl: str = Field("/usr/bin/apachectl", description="rootfs path of the generated apachectl")


class DebianOptions(_Strict):
    packages: tuple[str, ...] = Field((), description="Debian binary packages fetched with apt-get download")
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
        _each_matches(value, DEBIAN_PACKAGE, "Debian package name: lowercase letters, digits, + . -", "libc6")
        return value

    @field_validator("dlopen")
    @classmethod
    def _sonames(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _each_matches(value, SONAME, "soname", "libgcc_s.so.1")
        return value

    @field_validator("busybox_applets")
    @classmethod
    def _applets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _each_matches(value, APPLET, "busybox applet name", "ls")
        return value

    @field_validator("files")
    @classmethod
    def _absolute_paths(cls, value: dict[str, str]) -> dict[str, str]:
        _each_matches([*value, *value.values()], ROOTFS_PATH, "absolute path without control characters", "/bin/sh")
        return value


class BuildrootOptions(_Strict):
    defconfig: str = Field(
        "",
        description="defconfig in buildroot-config/configs/, {arch} replaced "
        "(default: IMAGE_defconfig; IMAGE_ARCH_defconfig for the other platforms)",
    )

    @field_validator("defconfig")
    @classmethod
    def _defconfig_name(cls, value: str) -> str:
        if value:
            _each_matches([value], NOT_AN_OPTION, "defconfig file name", "tiny_{arch}_defconfig")
        return value


class ImageConfig(_Strict):
    description: str = Field("", description="org.opencontainers.image.description label")
    backend: Literal["debian", "buildroot"] = Field("debian", description="rootfs backend")
    platforms: tuple[Arch, ...] = Field(("x86_64",), description="architectures to build")
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
            raise ValueError("platforms needs at least one of x86_64, aarch64")
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


class TagsConfig(_Strict):
    """docker/metadata-action's line syntax and semantics."""

    rules: tuple[str, ...] = Field(DEFAULT_TAG_RULES, description="tag rules, one metadata-action line each")
    flavor: tuple[str, ...] = Field((), description="flavor lines: latest=auto/true/false, prefix=, suffix=")


class RegistryConfig(_Strict):
    target: str = Field("127.0.0.1:5000", description="publish target HOST[:PORT][/NAMESPACE]")
    local_port: int = Field(5000, description="port of the embedded registry (invoke registry.up), on 127.0.0.1")
    local_storage: str = Field(".cache/rootfs-ci/registry", description="storage dir of the embedded registry")


class BuildrootConfig(_Strict):
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
        _each_matches([value], GIT_TAG, "Buildroot release tag", "2026.02.3")
        return value

    @field_validator("git_url")
    @classmethod
    def _url(cls, value: str) -> str:
        _each_matches(
            [value], NOT_AN_OPTION, "git URL (no leading '-', no spaces or control characters)", "https://..."
        )
        return value


class RootfsCiConfig(_Strict):
    project_dir: str = Field(".", description="project root; other paths are relative to it (tasks.py sets it)")
    default_image: str | None = Field(
        None, description="image used when --image is not given (default: the first image)"
    )
    dist_dir: str = Field("dist", description="where stage outputs and records go (relative to the project)")
    cache_dir: str = Field(".cache/rootfs-ci", description="download and build cache (relative to the project)")
    local_tag: str = Field("dev", description="tag of images loaded into the local engine")
    source_url: str = Field("", description="org.opencontainers.image.source (default: git remote origin)")
    images: dict[str, ImageConfig] = Field({}, description="images to build, by name")
    allow_external_overlays: bool = Field(
        False, description="allow overlays outside the project dir (absolute paths, '..', symlinks)"
    )
    tags: TagsConfig = Field(default_factory=TagsConfig, description="tag rules")
    registry: RegistryConfig = Field(default_factory=RegistryConfig, description="registry settings")
    buildroot: BuildrootConfig = Field(default_factory=BuildrootConfig, description="Buildroot source pin")

    @field_validator("images")
    @classmethod
    def _image_names(cls, value: dict[str, ImageConfig]) -> dict[str, ImageConfig]:
        for name in value:
            if not IMAGE_NAME.fullmatch(name):
                raise ValueError(f"image name {name!r} must be lowercase letters, digits and . _ -")
        return value


@dataclass(frozen=True)
class Settings:
    """The validated configuration plus where it lives."""

    project_dir: Path
    config: RootfsCiConfig
    source_date_epoch: int

    @property
    def dist_dir(self) -> Path:
        return self.project_dir / self.config.dist_dir

    @property
    def cache_dir(self) -> Path:
        return self.project_dir / self.config.cache_dir

    @property
    def default_image(self) -> str:
        """``default_image``, else the first declared image."""
        if self.config.default_image:
            return self.config.default_image
        if not self.config.images:
            raise ConfigError(
                f"{CONFIG_FILE} declares no images; add one under {NAMESPACE}.images (rootfs-ci init writes a starter)"
            )
        return next(iter(self.config.images))

    def smoke_spec(self, name: str) -> Path:
        """Where the smoke spec of image ``name`` lives."""
        configured = self.config.images[name].smoke_spec if name in self.config.images else ""
        return self.project_dir / (configured or f"tests/smoke/{name}.yaml")

    def image(self, name: str | None) -> tuple[str, ImageConfig]:
        name = name or self.default_image
        try:
            return name, self.config.images[name]
        except KeyError:
            known = ", ".join(sorted(self.config.images)) or "none"
            raise ConfigError(
                f"unknown image {name!r}; {CONFIG_FILE} declares: {known} (add it under {NAMESPACE}.images)"
            ) from None

    def arch(self, image: ImageConfig, arch: str | None) -> str:
        if arch is None:
            return image.platforms[0]
        if arch not in image.platforms:
            raise ConfigError(
                f"architecture {arch!r} is not in this image's platforms {list(image.platforms)}; "
                f"add it to {NAMESPACE}.images.<name>.platforms"
            )
        return arch


def _plain(value: Any) -> Any:
    """Invoke's DataProxy -> plain dicts and lists, so pydantic sees ordinary data."""
    if isinstance(value, Mapping) or (hasattr(value, "keys") and hasattr(value, "__getitem__")):
        return {key: _plain(value[key]) for key in value.keys()}  # noqa: SIM118 (DataProxy is not iterable)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def parse_config(raw: Any, project_dir: Path) -> RootfsCiConfig:
    """Validate the ``rootfs_ci`` mapping; raise ConfigError with file:line on the first problem."""
    config_file = project_dir / CONFIG_FILE
    data = _plain(raw) if raw is not None else {}
    if not isinstance(data, dict):
        raise error_at(config_file, (NAMESPACE,), "expected a mapping of settings")
    config = validate(RootfsCiConfig, data, config_file, (NAMESPACE,))
    _check_paths(config, project_dir, config_file)
    return config


def _check_paths(config: RootfsCiConfig, project_dir: Path, config_file: Path) -> None:
    if config.default_image is not None and config.default_image not in config.images:
        raise error_at(
            config_file,
            (NAMESPACE, "default_image"),
            f"{config.default_image!r} is not one of the declared images "
            f"({', '.join(sorted(config.images)) or 'none'}); fix it, or remove it to use the first image",
        )
    for name, image in config.images.items():
        for index, overlay in enumerate(image.overlays):
            problem = _overlay_problem(overlay, project_dir, config.allow_external_overlays)
            if problem:
                raise error_at(config_file, (NAMESPACE, "images", name, "overlays", index), problem)
        if image.backend == "debian" and not image.debian.packages:
            raise error_at(
                config_file,
                (NAMESPACE, "images", name, "debian", "packages"),
                "the debian backend needs at least one package (e.g. [busybox, libc6])",
            )


def _overlay_problem(overlay: str, project_dir: Path, allow_external: bool) -> str | None:
    """Why ``overlay`` cannot be used, or None: it must be a directory inside the project."""
    path = project_dir / overlay
    try:
        exists = path.is_dir()
    except OSError as exc:  # e.g. a name longer than the file system allows
        return f"overlay directory {overlay!r} cannot be used ({exc.strerror}); fix the path"
    if not exists:
        return f"overlay directory {overlay!r} does not exist under {project_dir}; create it or fix the path"
    if not allow_external and not path.resolve().is_relative_to(project_dir.resolve()):
        return (
            f"overlay directory {overlay!r} is outside the project {project_dir}; move it into the project, "
            f"or set {NAMESPACE}.allow_external_overlays: true"
        )
    return None


def source_date_epoch(project_dir: Path, environ: Mapping[str, str]) -> int:
    """SOURCE_DATE_EPOCH if set, else the last commit's time, else 0."""
    value = environ.get("SOURCE_DATE_EPOCH")
    if value is not None:
        if not value.isdigit():
            raise ConfigError(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds; unset it or fix it")
        return int(value)
    try:
        out = subprocess.run(
            ["git", "-C", str(project_dir), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return int(out) if out else 0
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 0


def load_settings(raw: Any, project_dir: Path, environ: Mapping[str, str]) -> Settings:
    return Settings(
        project_dir=project_dir,
        config=parse_config(raw, project_dir),
        source_date_epoch=source_date_epoch(project_dir, environ),
    )


def preflight(project_dir: Path) -> None:
    """Check invoke.yaml before Invoke reads it: Invoke would show a traceback for bad YAML.

    Only the ``rootfs_ci`` key is ours: every other top-level key belongs to Invoke, other task
    libraries or the project itself, and is left alone.
    """
    config_file = project_dir / CONFIG_FILE
    if not config_file.exists():
        return
    try:
        data = load_yaml(config_file)
    except OSError as exc:
        raise ConfigError(f"{config_file.name}: cannot be read ({exc.strerror}); fix its permissions") from None
    if data is None:
        return
    if not isinstance(data, dict):
        raise ConfigError(f"{config_file.name}:1: the top level must be a mapping (key: value)")
    if NAMESPACE in data and data[NAMESPACE] is not None and not isinstance(data[NAMESPACE], dict):
        raise error_at(config_file, (NAMESPACE,), "expected a mapping of settings")


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " or ".join(str(arg) for arg in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if origin in (Union, UnionType):
        return " or ".join(_type_name(arg) for arg in args if arg is not type(None)) + " (optional)"
    return {str: "string", int: "integer", bool: "boolean"}.get(annotation, getattr(annotation, "__name__", "?"))


def config_table(
    model: type[BaseModel] = RootfsCiConfig, prefix: str = f"{NAMESPACE}."
) -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every setting; README's table is made from this."""
    rows: list[tuple[str, str, str, str]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation: Any = field.annotation
        nested = next(
            (
                arg
                for arg in (annotation, *get_args(annotation))
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ),
            None,
        )
        if get_origin(annotation) is dict and nested is not None:
            rows.extend(config_table(nested, f"{key}.NAME."))
        elif nested is not None:
            rows.extend(config_table(nested, f"{key}."))
        else:
            default = field.get_default(call_default_factory=True)
            shown = json.dumps(list(default) if isinstance(default, tuple) else default)
            rows.append((key, _type_name(annotation), shown, field.description or ""))
    return rows
