"""The architectures rootfs-ci builds for, and each one's name in every tool it talks to.

One entry per architecture (like apko's ``types.Architecture``): Debian, OCI, qemu, GNU and ELF
names all come from here. Adding an architecture is one entry in ``ARCHITECTURES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rootfs_ci.errors import ConfigError


@dataclass(frozen=True)
class Architecture:
    name: str  # ours, as uname -m says it: x86_64, aarch64
    debian: str  # dpkg's architecture: amd64, arm64
    oci_architecture: str  # the image config's "architecture" (GOARCH): amd64, arm64
    oci_variant: str | None  # the image config's "variant": v8 for arm64
    qemu: str  # qemu-user's binary and binfmt_misc entry: qemu-x86_64
    triplet: str  # GNU triplet, Debian's multiarch library dir: x86_64-linux-gnu
    elf_machine: str  # ELF e_machine as pyelftools names it: EM_X86_64
    loader: str  # glibc's dynamic loader (PT_INTERP)
    lib64: bool  # Buildroot links lib64 -> lib (64-bit targets)

    @property
    def oci_platform(self) -> tuple[str, str | None]:
        """(architecture, variant) of the OCI image config and index entries."""
        return self.oci_architecture, self.oci_variant

    @property
    def platform(self) -> str:
        """'linux/amd64', 'linux/arm64/v8': the platform string docker and the matrix use."""
        return f"linux/{self.oci_architecture}" + (f"/{self.oci_variant}" if self.oci_variant else "")

    @property
    def qemu_static(self) -> str:
        """The statically linked emulator Debian's qemu-user-static ships (runs with -L ROOT)."""
        return f"{self.qemu}-static"

    @property
    def emulator_prefixes(self) -> tuple[str, ...]:
        """How the emulator's argv[0] starts on the host: qemu's own name or Debian's binfmt wrapper."""
        return (self.qemu, f"{self.name}-binfmt")


ARCHITECTURES = (
    Architecture(
        name="x86_64",
        debian="amd64",
        oci_architecture="amd64",
        oci_variant=None,
        qemu="qemu-x86_64",
        triplet="x86_64-linux-gnu",
        elf_machine="EM_X86_64",
        loader="/lib64/ld-linux-x86-64.so.2",
        lib64=True,
    ),
    Architecture(
        name="aarch64",
        debian="arm64",
        oci_architecture="arm64",
        oci_variant="v8",
        qemu="qemu-aarch64",
        triplet="aarch64-linux-gnu",
        elf_machine="EM_AARCH64",
        loader="/lib/ld-linux-aarch64.so.1",
        lib64=True,
    ),
)

ARCH_NAMES = tuple(arch.name for arch in ARCHITECTURES)
_BY_NAME = {arch.name: arch for arch in ARCHITECTURES}
_BY_ELF_MACHINE = {arch.elf_machine: arch for arch in ARCHITECTURES}
EMULATOR_PREFIXES = tuple(prefix for arch in ARCHITECTURES for prefix in arch.emulator_prefixes)

if TYPE_CHECKING:
    ArchName = str
else:
    ArchName = Literal[ARCH_NAMES]  # the config's type: pydantic names the choices in its message


def architecture(name: str) -> Architecture:
    """The entry for ``name``; a one-line ConfigError for a name rootfs-ci does not know."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown architecture {name!r}; use one of: {', '.join(ARCH_NAMES)}") from None


def platform(name: str) -> str:
    """'x86_64' -> 'linux/amd64', 'aarch64' -> 'linux/arm64/v8' (the OCI platform the image config carries)."""
    return architecture(name).platform


def by_elf_machine(machine: str) -> Architecture | None:
    """The entry whose ELF e_machine is ``machine`` (e.g. 'EM_AARCH64'), or None."""
    return _BY_ELF_MACHINE.get(machine)


def choices(separator: str = " or ") -> str:
    """'x86_64 or aarch64', for help texts and messages."""
    return separator.join(ARCH_NAMES)
