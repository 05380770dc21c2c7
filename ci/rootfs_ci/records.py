"""Small JSON records each stage writes beside its output, so stages can run in separate jobs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rootfs_ci.errors import ConfigError
from rootfs_ci.fsutil import write_atomic


def stage_dir(dist_dir: Path, image: str, arch: str) -> Path:
    return dist_dir / image / arch


def write_record(path: Path, record: dict[str, Any]) -> None:
    write_atomic(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())


def read_record(path: Path, produced_by: str) -> dict[str, Any]:
    """Read a record; a missing or unreadable one says which command makes it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run '{produced_by}' first") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is unreadable ({exc}); run '{produced_by}' again") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a record; run '{produced_by}' again")
    return data
