"""Run a program of the rootfs being assembled on this host: its own loader natively, qemu-user otherwise."""

from __future__ import annotations

import platform
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from rootfs_ci.arch import architecture
from rootfs_ci.errors import BackendError
from rootfs_ci.fsutil import resolve_in_root
from rootfs_ci.rootfs.elf import read_elf


def run_target(tree: Path, arch: str, binary: str, args: Sequence[str]) -> str:
    """Run ``binary`` of the rootfs with ``args``; return its output."""
    host = resolve_in_root(tree, binary)
    if arch == platform.machine():
        interpreter = read_elf(host).interpreter
        command = [str(host)]
        if interpreter:
            library_path = f"{tree / 'lib'}:{tree / 'usr/lib'}"
            command = [str(resolve_in_root(tree, interpreter)), "--library-path", library_path, str(host)]
    else:
        emulator = architecture(arch).qemu_static
        qemu = shutil.which(emulator)
        if qemu is None:
            raise BackendError(f"running {arch} binaries needs {emulator}; install qemu-user-static")
        command = [qemu, "-L", str(tree), str(host)]
    result = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackendError(f"{binary} {' '.join(args)} failed in the rootfs: {result.stderr.strip()[:200]}")
    return result.stdout
