"""Typed, validated configuration: the ``rootfs_ci`` key of invoke.yaml.

Every error names the file, the line, the dotted key and what to do about it. The models are in
``models`` (their name grammar in ``names``), reading them in ``loading``, the result in ``settings``.
"""

from rootfs_ci.config.loading import load_settings, parse_config, preflight, source_date_epoch
from rootfs_ci.config.models import (
    CONFIG_FILE,
    DEFAULT_MAX_ROOTFS_BYTES,
    DEFAULT_TAG_RULES,
    NAMESPACE,
    BuildrootConfig,
    BuildrootOptions,
    DebianOptions,
    ImageConfig,
    RegistryConfig,
    RootfsCiConfig,
    TagsConfig,
)
from rootfs_ci.config.names import IMAGE_NAME
from rootfs_ci.config.settings import Settings
from rootfs_ci.rootfs.apache import HttpdOptions

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
