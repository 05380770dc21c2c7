"""Smoke tests of images against their own CMD: specs, checks, reports."""

from ci.smoke.runner import run_smoke

__all__ = ["run_smoke"]
