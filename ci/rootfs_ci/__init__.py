"""rootfs-ci: Buildroot defconfig + rootfs overlay -> tested, versioned container images.

Use it from another repository's tasks.py::

    from pathlib import Path
    from rootfs_ci.tasks import namespace

    ns = namespace(Path(__file__).resolve().parent)

The names below are the public API; everything else may change between minor releases.
"""

from __future__ import annotations

from rootfs_ci.errors import (
    BackendError,
    ConfigError,
    EngineError,
    ImageError,
    RegistryError,
    RootfsCiError,
    SmokeFailure,
    UnsafeArchiveError,
)
from rootfs_ci.versioning import __version__

__all__ = [
    "BackendError",
    "ConfigError",
    "EngineError",
    "ImageError",
    "RegistryError",
    "RootfsCiError",
    "SmokeFailure",
    "UnsafeArchiveError",
    "__version__",
]
