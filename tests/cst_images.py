"""The two images of the differential CST tests (tests/cst_differential.py): the testrfs rootfs our build
writes, plus files and image config that reach container-structure-test's edge cases (set-id and sticky
modes, symlinks of each kind, owners, Debian doc trees, env, labels, ports, volumes, entrypoint, user)."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker


@dataclass(frozen=True)
class Entry:
    path: str
    mode: int = 0o644
    content: bytes | None = b""  # None: a directory
    uid: int = 0
    gid: int = 0
    symlink: str | None = None
    hardlink: str | None = None


COMMON = (
    Entry("diff", 0o755, None),
    Entry("diff/plain.txt", 0o644, "first line\nsecond line 42\nLast: ünïcode\n".encode()),
    Entry("diff/noeol.txt", 0o600, b"no newline at the end"),
    Entry("diff/empty.txt", 0o644, b""),
    Entry("diff/crlf.txt", 0o644, b"alpha\r\nbeta\r\n"),
    Entry("diff/space name.txt", 0o444, b"a.b [x] $HOME\n"),
    Entry("diff/setuid", 0o4755, b"#!/bin/sh\necho setuid\n"),
    Entry("diff/setgid", 0o2711, b"x\n"),
    Entry("diff/both", 0o6750, b"x\n"),
    Entry("diff/owned", 0o640, b"owned\n", uid=1000, gid=50),
    Entry("diff/group-exec", 0o010, b"x\n"),
    Entry("diff/other-exec", 0o001, b"x\n"),
    Entry("diff/sticky", 0o1777, None),
    Entry("diff/private", 0o700, None, uid=1000, gid=1000),
    Entry("diff/private/inner.txt", 0o600, b"inner\n", uid=1000, gid=1000),
    Entry("diff/abs-link", 0o777, symlink="/diff/plain.txt"),
    Entry("diff/rel-link", 0o777, symlink="plain.txt"),
    Entry("diff/dir-link", 0o777, symlink="/diff/sticky"),
    Entry("diff/dangling", 0o777, symlink="/nowhere"),
    Entry("diff/hard", 0o644, hardlink="diff/plain.txt"),
    Entry("diff/LICENSE", 0o644, b"MIT License\n"),
    Entry("diff/COPYING.agpl", 0o644, b"GNU affero general public license (agpl)\n"),
    Entry("usr/share/doc", 0o755, None),
)
GOOD_DOCS = (
    Entry("usr/share/doc/pkg-ok", 0o755, None),
    Entry("usr/share/doc/pkg-ok/copyright", 0o644, b"License: GPL-2+\n"),
    Entry("usr/share/doc/libgnutls30", 0o755, None),  # CST's whitelist: no copyright needed
    Entry("usr/share/doc/pkg-alias", 0o777, symlink="pkg-ok"),  # not a directory: not listed
)
BAD_DOCS = (
    Entry("usr/share/doc/pkg-agpl", 0o755, None),
    Entry("usr/share/doc/pkg-agpl/copyright", 0o644, b"License: AGPL-3+\n"),
    Entry("usr/share/doc/pkg-none", 0o755, None),
    Entry("usr/share/doc/pkg-none/README", 0o644, b"no copyright here\n"),
    Entry("usr/share/doc/pkg-wtf", 0o755, None),
    Entry("usr/share/doc/pkg-wtf/copyright", 0o644, b"License: wtfpl\n"),
)
IMAGE_A = (
    "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV GREETING=hello",
    "ENV EMPTY=",
    "ENV EQUALS=a=b=c",
    "ENV DOLLAR=\\$HOME",
    "LABEL version=1.2.3",
    'LABEL description="two words"',
    "LABEL empty=",
    "EXPOSE 80",
    "EXPOSE 53/udp",
    "EXPOSE 8080/tcp",
    "VOLUME /data",
    "VOLUME /var/cache",
    "WORKDIR /diff",
    "USER root",
    'CMD ["/bin/sh"]',
)
IMAGE_B = ('ENTRYPOINT ["/bin/false"]', 'CMD ["--help"]', "USER 1000", "ENV HOME=/home/user")
IMAGES = {"a": (COMMON + GOOD_DOCS, IMAGE_A), "b": (COMMON + BAD_DOCS, IMAGE_B)}


def _extra_members(tar: tarfile.TarFile, entries: tuple[Entry, ...]) -> None:
    for entry in entries:
        info = tarfile.TarInfo(entry.path)
        info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, 0
        if entry.symlink is not None:
            info.type, info.linkname = tarfile.SYMTYPE, entry.symlink
            tar.addfile(info)
        elif entry.hardlink is not None:
            info.type, info.linkname = tarfile.LNKTYPE, entry.hardlink
            tar.addfile(info)
        elif entry.content is None:
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        else:
            info.size = len(entry.content)
            tar.addfile(info, io.BytesIO(entry.content))


def import_image(client: docker.DockerClient, rootfs_tar: Path, kind: str, reference: str) -> None:
    """The rootfs our build wrote, plus the entries of ``kind``, imported with its image config."""
    entries, changes = IMAGES[kind]
    buffer = io.BytesIO()
    with tarfile.open(rootfs_tar) as source, tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        taken = {entry.path for entry in entries}
        for member in source:
            if member.name.lstrip("./") in taken:
                continue
            out.addfile(member, source.extractfile(member) if member.isfile() else None)
        _extra_members(out, entries)
    repository, _, tag = reference.partition(":")
    client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag, changes=list(changes))
