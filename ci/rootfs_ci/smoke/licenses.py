"""licenseTests, as CST runs them: license files must not name a refused license (AGPL, WTFPL); with
``debian: true``, every package directory under /usr/share/doc needs a copyright file."""

from __future__ import annotations

from docker.models.containers import Container

from rootfs_ci.records import CheckResult
from rootfs_ci.smoke import spec as s
from rootfs_ci.smoke.checks import FileProblem, Outcome, Target, archive, read_file, timed

DEBIAN_DOCS = "/usr/share/doc"
LICENSE_ALLOWED_PACKAGES = ("libgnutls30",)  # CST's whitelist
LICENSE_REFUSED_WORDS = ("AGPL", "WTFPL")  # CST's blacklist, matched in the upper-cased file


def _license_problem(container: Container, path: str) -> str | None:
    try:
        text = read_file(container, path).decode(errors="replace").upper()
    except FileProblem as problem:
        return str(problem)
    refused = [word for word in LICENSE_REFUSED_WORDS if word in text]
    return f"{path} names {refused[0]}" if refused else None


def _debian_packages(container: Container) -> list[str]:
    """CST's ReadDir of /usr/share/doc: the directories right under it (not symlinks to directories)."""
    packages = []
    with archive(container, DEBIAN_DOCS) as tar:  # headers only: the files' contents are skipped
        for member in tar:
            if member.isdir() and len(member.name.rstrip("/").split("/")) == 2:
                packages.append(member.name.rstrip("/").split("/")[1])
    return packages


def license_check(test: s.LicenseTest, index: int, target: Target) -> CheckResult:
    def check() -> Outcome:
        container = target.pristine()
        problems = []
        if test.debian:
            try:
                packages = _debian_packages(container)
            except FileProblem as problem:
                return False, f"{DEBIAN_DOCS} with a copyright file per package", str(problem)
            for package in packages:
                if package not in LICENSE_ALLOWED_PACKAGES:
                    problems.append(_license_problem(container, f"{DEBIAN_DOCS}/{package}/copyright"))
        problems += [_license_problem(container, path) for path in test.files]
        found = [problem for problem in problems if problem]
        expected = f"license files without {' or '.join(LICENSE_REFUSED_WORDS)}"
        return not found, expected, "; ".join(found) or f"{len(problems)} files as expected"

    return timed("licenseTests", f"license test {index + 1}", check)
