"""Smoke tests of images against their own CMD: specs, checks, reports (run_smoke: rootfs_ci.smoke.runner)."""
