"""Typed, validated configuration: the ``rootfs_ci`` key of invoke.yaml.

Every error names the file, the line, the dotted key and what to do about it. The models are in
``models`` (their name grammar in ``names``), reading them in ``loading``, the result in ``settings``.

Importing this package is cheap: the pydantic models load on first use of a name (PEP 562), so that
Invoke's start-up (which imports every task module) does not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rootfs_ci.config.keys import CONFIG_FILE, NAMESPACE

if TYPE_CHECKING:
    from rootfs_ci.config.loading import load_settings, parse_config, source_date_epoch
    from rootfs_ci.config.models import (
        DEFAULT_MAX_ROOTFS_BYTES,
        DEFAULT_TAG_RULES,
        BuildrootConfig,
        BuildrootOptions,
        DebianOptions,
        ImageConfig,
        RegistryConfig,
        RootfsCiConfig,
        TagsConfig,
    )
    from rootfs_ci.config.names import IMAGE_NAME
    from rootfs_ci.config.preflight import preflight
    from rootfs_ci.config.settings import Settings
    from rootfs_ci.rootfs.apache import HttpdOptions

_LAZY = {
    "load_settings": "rootfs_ci.config.loading",
    "parse_config": "rootfs_ci.config.loading",
    "source_date_epoch": "rootfs_ci.config.loading",
    "DEFAULT_MAX_ROOTFS_BYTES": "rootfs_ci.config.models",
    "DEFAULT_TAG_RULES": "rootfs_ci.config.models",
    "BuildrootConfig": "rootfs_ci.config.models",
    "BuildrootOptions": "rootfs_ci.config.models",
    "DebianOptions": "rootfs_ci.config.models",
    "ImageConfig": "rootfs_ci.config.models",
    "RegistryConfig": "rootfs_ci.config.models",
    "RootfsCiConfig": "rootfs_ci.config.models",
    "TagsConfig": "rootfs_ci.config.models",
    "IMAGE_NAME": "rootfs_ci.config.names",
    "Settings": "rootfs_ci.config.settings",
    "preflight": "rootfs_ci.config.preflight",
    "HttpdOptions": "rootfs_ci.rootfs.apache",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CONFIG_FILE",
    "DEFAULT_MAX_ROOTFS_BYTES",
    "DEFAULT_TAG_RULES",
    "IMAGE_NAME",
    "NAMESPACE",
    "BuildrootConfig",
    "BuildrootOptions",
    "DebianOptions",
    "HttpdOptions",
    "ImageConfig",
    "RegistryConfig",
    "RootfsCiConfig",
    "Settings",
    "TagsConfig",
    "load_settings",
    "parse_config",
    "preflight",
    "source_date_epoch",
]
