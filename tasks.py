"""This repository's task tree: rootfs-ci's reusable collections, configured by invoke.yaml."""

from pathlib import Path

from ci.tasks import namespace

ns = namespace(Path(__file__).resolve().parent)
