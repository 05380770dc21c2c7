"""Read what an ELF file needs at run time: DT_NEEDED sonames and the PT_INTERP loader."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from rootfs_ci.arch import by_elf_machine

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class ElfInfo:
    machine: str
    needed: tuple[str, ...]
    interpreter: str | None
    soname: str | None


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def read_elf(path: Path) -> ElfInfo:
    """Parse ``path``; raises ValueError when it is not a readable ELF file. A file unchanged since it
    was last read in this process (same inode, size and mtime) is not parsed again: the library
    closure and the loader check read the same files."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise ValueError(f"{path}: not a readable ELF file ({exc})") from None
    return _read_elf(path, (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=4096)
def _read_elf(path: Path, _identity: tuple[int, int, int, int]) -> ElfInfo:
    # pyelftools costs ~50 ms to import; the config models import this module, every stage does not need it.
    from elftools.common.exceptions import ELFError  # noqa: PLC0415
    from elftools.elf.dynamic import DynamicSegment  # noqa: PLC0415
    from elftools.elf.elffile import ELFFile  # noqa: PLC0415

    try:
        with path.open("rb") as handle:
            elf = ELFFile(handle)
            needed: list[str] = []
            soname = None
            interpreter = None
            # Segments, not sections: what the loader reads, and a few headers instead of every section's.
            for segment in elf.iter_segments():
                if segment["p_type"] == "PT_INTERP":
                    interpreter = str(getattr(segment, "get_interp_name")())  # noqa: B009 (InterpSegment only)
                elif isinstance(segment, DynamicSegment):
                    for tag in segment.iter_tags():
                        if tag.entry.d_tag == "DT_NEEDED":
                            needed.append(str(getattr(tag, "needed")))  # noqa: B009 (set on DT_NEEDED tags)
                        elif tag.entry.d_tag == "DT_SONAME":
                            soname = str(getattr(tag, "soname"))  # noqa: B009 (set on DT_SONAME tags)
            known = by_elf_machine(str(elf["e_machine"]))
            machine = known.name if known else str(elf["e_machine"])
    except (ELFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable ELF file ({exc})") from None
    return ElfInfo(machine=machine, needed=tuple(needed), interpreter=interpreter, soname=soname)
