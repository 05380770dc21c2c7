"""The minimal /etc and directory tree the debian backend lays down: Buildroot's skeleton, trimmed.

Same users and groups as Buildroot's system/skeleton, so one overlay (``User www-data``) serves
both backends. Root's password is locked ('*'), never empty: nobody logs in to a container.
"""

from __future__ import annotations

from pathlib import Path

from rootfs_ci.arch import architecture

DIRECTORIES = (
    "bin", "dev", "etc", "etc/init.d", "home", "lib", "mnt", "opt", "proc", "root", "run", "sbin",
    "sys", "tmp", "usr", "usr/bin", "usr/lib", "usr/sbin", "var", "var/log", "var/www",
)  # fmt: skip

SYMLINKS = {"var/run": "../run", "var/tmp": "../tmp"}

FILES = {
    "etc/passwd": """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
""",
    "etc/group": """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
wheel:x:10:root
www-data:x:33:
operator:x:37:
users:x:100:
nobody:x:65534:
""",
    "etc/shadow": """\
root:*:::::::
daemon:*:::::::
bin:*:::::::
sys:*:::::::
sync:*:::::::
mail:*:::::::
www-data:*:::::::
operator:*:::::::
nobody:*:::::::
""",
    "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
    "etc/profile": """\
export PATH=/usr/bin:/usr/sbin:/bin:/sbin

if [ "$PS1" ]; then
\tif [ "`id -u`" -eq 0 ]; then
\t\texport PS1='# '
\telse
\t\texport PS1='$ '
\tfi
fi
""",
}


def lay_skeleton(tree: Path, arch: str) -> None:
    for directory in DIRECTORIES:
        (tree / directory).mkdir(parents=True, exist_ok=True)
    links = dict(SYMLINKS)
    if architecture(arch).lib64:  # Buildroot makes lib64 -> lib on 64-bit targets
        links.update({"lib64": "lib", "usr/lib64": "lib"})
    for link, target in links.items():
        (tree / link).symlink_to(target)
    for relative, content in FILES.items():
        (tree / relative).write_text(content, encoding="utf-8")
