"""Run other architectures' containers here: qemu-user-static registered with binfmt_misc.

The registration uses the F (fix binary) flag from Debian's qemu-user-static binfmt.d files, so
the emulator is opened once by the kernel and works inside every container's mount namespace.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from rootfs_ci.arch import architecture
from rootfs_ci.errors import EngineError

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
CONF_DIR = Path("/usr/lib/binfmt.d")


def needs_emulation(arch: str) -> bool:
    return arch != platform.machine()


def registered(arch: str, binfmt_dir: Path = BINFMT_DIR) -> bool:
    entry = binfmt_dir / architecture(arch).qemu
    try:
        return entry.read_text().splitlines()[0] == "enabled"
    except (OSError, IndexError):
        return False


def ensure_binfmt(arch: str, binfmt_dir: Path = BINFMT_DIR, conf_dir: Path = CONF_DIR) -> str:
    """Register qemu for ``arch`` if needed; return what was done. Needs root the first time."""
    if not needs_emulation(arch):
        return f"{arch} is this machine's architecture: nothing to do"
    if registered(arch, binfmt_dir):
        return f"qemu for {arch} is already registered"
    conf = conf_dir / f"{architecture(arch).qemu}.conf"
    if not conf.exists():
        raise EngineError(f"{conf} is missing: install qemu-user-static (apt-get install qemu-user-static)")
    hint = "run 'invoke qemu.setup' as root (or ./dev setup)"
    if not (binfmt_dir / "register").exists():
        if os.geteuid() != 0:
            raise EngineError(f"binfmt_misc is not mounted at {binfmt_dir}; {hint}")
        result = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt_dir)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise EngineError(f"cannot mount binfmt_misc at {binfmt_dir}: {result.stderr.strip()}; {hint}")
    try:
        for line in conf.read_text().splitlines():
            if line.startswith(":"):
                (binfmt_dir / "register").write_text(line)
    except OSError as exc:
        raise EngineError(f"cannot register qemu for {arch} with binfmt_misc ({exc.strerror}); {hint}") from None
    if not registered(arch, binfmt_dir):
        raise EngineError(f"qemu for {arch} did not register with binfmt_misc; {hint}")
    return f"registered qemu for {arch} with binfmt_misc"


def require_emulation(arch: str) -> None:
    """For stages that run ``arch`` containers: a clear error when they cannot run here."""
    if needs_emulation(arch) and not registered(arch):
        raise EngineError(
            f"{arch} containers cannot run here: qemu is not registered with binfmt_misc; "
            "run 'invoke qemu.setup' as root (or ./dev setup)"
        )
