"""The suite's tests that read this repository's own files pass on the commit `invoke release` makes.

ci.yml publishes only when its test job passes on the tag's commit, and right after a release the
CHANGELOG's [Unreleased] section is empty: a test that read the repository's CHANGELOG, tags or
git config instead of building its fixture in a temp dir would fail there and block every release.
A throwaway clone of HEAD (committed work only) gets a change note, is released with
`invoke release --bump minor`, and those tests run on the release commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import GIT_ENV, REPO, git

# the test modules that read files of the repository they run in (CHANGELOG, invoke.yaml, README,
# workflows, buildroot-config) or make releases
STATE_TESTS = [
    "tests/unit/test_release.py",
    "tests/unit/test_version.py",
    "tests/unit/test_config.py",
    "tests/unit/test_workflows.py",
    "tests/unit/test_buildroot_units.py",
]


def test_repository_state_tests_pass_on_a_release_commit(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(REPO), str(clone))
    changelog = clone / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n- A change to release.\n", 1)
    )
    git(clone, "commit", "-q", "-am", "a change to release")
    env = {**os.environ, **GIT_ENV}
    released = subprocess.run(
        [sys.executable, "-m", "invoke", "release", "--bump", "minor"],
        cwd=clone, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith("released v")
    assert git(clone, "status", "--porcelain") == ""
    assert git(clone, "describe", "--exact-match", "HEAD").startswith("v")
    # the tests import the clone's own ci package and tests, not this work tree's
    env["PYTHONPATH"] = str(clone)
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not act", *STATE_TESTS],
        cwd=clone, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    assert " passed" in suite.stdout.splitlines()[-1]
    assert "failed" not in suite.stdout.splitlines()[-1]
