"""Smoke tests of images against their own CMD: specs, checks, reports."""

from rootfs_ci.smoke.runner import run_smoke

__all__ = ["run_smoke"]
