"""The project's BR2_EXTERNAL tree: its name, its defconfigs, and paths its settings refer to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rootfs_ci.config import NAMESPACE, ImageConfig
from rootfs_ci.errors import ConfigError

EXTERNAL_NAME = re.compile(r"^[A-Za-z0-9_]+$")
MAKE_VARIABLE = re.compile(r"\$[({]([A-Za-z0-9_]+)[)}]")


@dataclass(frozen=True)
class External:
    """A BR2_EXTERNAL tree (external.desc, Config.in, external.mk, configs/)."""

    path: Path
    name: str

    @property
    def path_variable(self) -> str:
        """The make/kconfig variable Buildroot sets to this tree's path."""
        return f"BR2_EXTERNAL_{self.name}_PATH"

    def defconfig(self, image_name: str, image: ImageConfig, arch: str | None = None) -> Path:
        """IMAGE_defconfig for the image's first platform, IMAGE_ARCH_defconfig for the others, or
        ``buildroot.defconfig`` with ``{arch}`` replaced (a defconfig builds one architecture)."""
        arch = arch or image.platforms[0]
        if image.buildroot.defconfig:
            name = image.buildroot.defconfig.replace("{arch}", arch)
        elif arch == image.platforms[0]:
            name = f"{image_name}_defconfig"
        else:
            name = f"{image_name}_{arch}_defconfig"
        if not name.endswith("_defconfig") or "/" in name:
            raise ConfigError(
                f"{NAMESPACE}.images.{image_name}.buildroot.defconfig: {name!r} must be a NAME_defconfig file "
                f"name in {self.path.name}/configs/"
            )
        path = self.path / "configs" / name
        if not path.is_file():
            raise ConfigError(
                f"{path} does not exist: image {image_name!r} ({arch}) needs a Buildroot defconfig there "
                f"(or set {NAMESPACE}.images.{image_name}.buildroot.defconfig)"
            )
        return path

    def expand(self, value: str, topdir: Path) -> str:
        """Expand $(BR2_EXTERNAL_<NAME>_PATH) and $(TOPDIR) the way Buildroot's make would."""
        known = {self.path_variable: str(self.path), "TOPDIR": str(topdir)}
        return MAKE_VARIABLE.sub(lambda match: known.get(match[1], match[0]), value)


def load_external(project_dir: Path, relative: str) -> External:
    """Read and check the tree at ``project_dir / relative``; every problem is one ConfigError line."""
    key = f"{NAMESPACE}.buildroot.external"
    path = (project_dir / relative).resolve()
    if not path.is_dir():
        raise ConfigError(
            f"{key}: BR2_EXTERNAL directory {relative!r} does not exist under {project_dir}; "
            "create it (external.desc, Config.in, external.mk, configs/) or fix the path"
        )
    missing = [name for name in ("external.desc", "Config.in", "external.mk") if not (path / name).is_file()]
    if missing:
        raise ConfigError(f"{key}: {path} is not a BR2_EXTERNAL tree: {', '.join(missing)} missing")
    name = ""
    for line in (path / "external.desc").read_text(encoding="utf-8").splitlines():
        keyword, _, value = line.partition(":")
        if keyword.strip() == "name":
            name = value.strip()
    if not EXTERNAL_NAME.match(name):
        raise ConfigError(
            f"{path / 'external.desc'}: needs a 'name: NAME' line (letters, digits and _ only), got {name!r}"
        )
    return External(path=path, name=name)
