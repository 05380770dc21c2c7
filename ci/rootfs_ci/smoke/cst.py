"""The container-structure-test part of a smoke spec, as a file CST itself runs (``invoke smoke --export-cst``).

A spec keeps our runtime checks next to CST's sections; CST refuses keys it does not know, so the export
keeps CST's sections and, in them, CST's keys as the spec wrote them. A command test with our
``exec: true`` is left out: CST would run it in a new container, which is not what it checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rootfs_ci.fsutil import write_atomic
from rootfs_ci.smoke.spec import Spec

CST_SECTIONS = (
    "schemaVersion",
    "globalEnvVars",
    "commandTests",
    "fileExistenceTests",
    "fileContentTests",
    "metadataTest",
    "licenseTests",
)
OUR_KEYS = {"commandTests": ("exec", "timeoutSeconds"), "fileExistenceTests": ("symlinkTo",)}


def cst_part(spec: Spec) -> tuple[dict[str, Any], list[str]]:
    """The CST-only spec as data, and the names of the command tests left out (``exec: true``)."""
    data = spec.model_dump(mode="json", exclude_unset=True, include=set(CST_SECTIONS))
    data["schemaVersion"] = spec.schemaVersion
    left_out = [test.name for test in spec.commandTests if test.exec]
    if "commandTests" in data:
        data["commandTests"] = [test for test in data["commandTests"] if not test.get("exec")]
    for section, keys in OUR_KEYS.items():
        for test in data.get(section, ()):
            for key in keys:
                test.pop(key, None)
    ordered = {section: data[section] for section in CST_SECTIONS if data.get(section) not in (None, [], {})}
    return {"schemaVersion": spec.schemaVersion, **ordered}, left_out


def export_cst(spec: Spec, source: Path, target: Path) -> list[str]:
    """Write the CST part of ``spec`` (read from ``source``) to ``target``; the command tests left out."""
    data, left_out = cst_part(spec)
    header = f"# The container-structure-test part of {source.name}, written by 'invoke smoke --export-cst'.\n"
    if left_out:
        header += "# Left out (exec: true runs in the container running CMD, which CST cannot do):\n"
        header += "".join(f"#   {name}\n" for name in left_out)
    write_atomic(target, (header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)).encode())
    return left_out
