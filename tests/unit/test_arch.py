"""The architecture table: every entry's names agree with each other and with the tools that use them."""

from __future__ import annotations

import typing

import pytest
from elftools.elf.enums import ENUM_E_MACHINE

from rootfs_ci.arch import ARCH_NAMES, ARCHITECTURES, Architecture, architecture, by_elf_machine, platform
from rootfs_ci.config import ImageConfig
from rootfs_ci.errors import ConfigError

# Not in the product (nothing here builds or runs it yet): adding it is this one entry in ARCHITECTURES.
RISCV64 = Architecture(
    name="riscv64",
    debian="riscv64",
    oci_architecture="riscv64",
    oci_variant=None,
    qemu="qemu-riscv64",
    triplet="riscv64-linux-gnu",
    elf_machine="EM_RISCV",
    loader="/lib/ld-linux-riscv64-lp64d.so.1",
    lib64=True,
)
OCI_VARIANTS = {"arm64": {"v8"}, "arm": {"v6", "v7"}}  # the variants the OCI image spec defines


def check_consistent(arch: Architecture) -> None:
    assert arch.triplet == f"{arch.name}-linux-gnu"
    assert arch.qemu == f"qemu-{arch.name}"
    assert arch.qemu_static == f"qemu-{arch.name}-static"
    assert arch.elf_machine in ENUM_E_MACHINE, f"pyelftools does not know {arch.elf_machine}"
    assert arch.oci_variant is None or arch.oci_variant in OCI_VARIANTS.get(arch.oci_architecture, set())
    assert arch.platform == "/".join(filter(None, ("linux", arch.oci_architecture, arch.oci_variant)))
    directory, _, loader = arch.loader.rpartition("/")
    assert directory in ("/lib", "/lib64") and loader.startswith("ld-linux")
    assert arch.lib64 or directory == "/lib", "a loader under /lib64 needs the lib64 -> lib link"


@pytest.mark.parametrize("arch", [*ARCHITECTURES, RISCV64], ids=lambda arch: arch.name)
def test_each_entry_is_consistent(arch: Architecture) -> None:
    check_consistent(arch)


def test_entries_are_unique_by_every_name() -> None:
    for field in ("name", "debian", "platform", "qemu", "triplet", "elf_machine"):
        values = [getattr(arch, field) for arch in (*ARCHITECTURES, RISCV64)]
        assert len(set(values)) == len(values), f"two architectures share a {field}"


def test_the_known_names_in_each_tool() -> None:
    assert [(a.name, a.debian, a.platform, a.qemu_static) for a in ARCHITECTURES] == [
        ("x86_64", "amd64", "linux/amd64", "qemu-x86_64-static"),
        ("aarch64", "arm64", "linux/arm64/v8", "qemu-aarch64-static"),
    ]
    assert architecture("aarch64").oci_platform == ("arm64", "v8")
    assert platform("x86_64") == "linux/amd64"
    assert by_elf_machine("EM_AARCH64") is architecture("aarch64")
    assert by_elf_machine("EM_MIPS") is None


def test_unknown_architecture_is_one_line() -> None:
    with pytest.raises(ConfigError) as raised:
        architecture("mips")
    assert str(raised.value) == "unknown architecture 'mips'; use one of: x86_64, aarch64"


def test_the_config_accepts_exactly_the_table() -> None:
    annotation = ImageConfig.model_fields["platforms"].annotation
    assert typing.get_args(typing.get_args(annotation)[0]) == ARCH_NAMES
    assert ImageConfig(platforms=ARCH_NAMES).platforms == ARCH_NAMES
