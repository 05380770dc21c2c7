"""Where the configuration lives: cheap to import (no pydantic), for Invoke's start-up path."""

NAMESPACE = "rootfs_ci"
CONFIG_FILE = "invoke.yaml"
