"""The catalogue of bad input: each case is one clear line, a non-zero exit, no traceback and
nothing left behind (no new file in dist/, no scratch dir, no container, no image)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import Project, created_by

pytestmark = pytest.mark.docker

Edit = Callable[[Project], None]


def config(change: Callable[[dict], None]) -> Edit:
    return lambda project: project.edit_config(change)


def apacheinit(key: str, value: object) -> Edit:
    return config(lambda data: data["rootfs_ci"]["images"]["apacheinit"].__setitem__(key, value))


def debian(change: Callable[[dict], None]) -> Edit:
    return config(lambda data: change(data["rootfs_ci"]["images"]["apacheinit"]["debian"]))


def unlocked(edit: Edit | None = None) -> Edit:
    """``edit``, and no lock file: the build resolves afresh (from $ROOTFS_CI_DEBIAN_MIRROR)."""

    def both(project: Project) -> None:
        if edit is not None:
            edit(project)
        (project.path / LOCK_FILE).unlink()

    return both


def text(old: str, new: str, file: str = "invoke.yaml") -> Edit:
    def edit(project: Project) -> None:
        path = project.path / file
        content = path.read_text()
        assert old in content, f"{old!r} not in {file}"
        path.write_text(content.replace(old, new, 1))

    return edit


def build(image: str = "apacheinit") -> Edit:
    def edit(project: Project) -> None:
        assert project.invoke("build", "--image", image).returncode == 0

    return edit


def append_byte(file: str) -> Edit:
    def edit(project: Project) -> None:
        with (project.path / file).open("ab") as handle:
            handle.write(b"x")

    return edit


def write(file: str, content: str) -> Edit:
    def edit(project: Project) -> None:
        (project.path / file).parent.mkdir(parents=True, exist_ok=True)
        (project.path / file).write_text(content)

    return edit


def git_repo(project: Project) -> None:
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=project.path, check=True, capture_output=True)


def chain(*edits: Edit) -> Edit:
    def edit(project: Project) -> None:
        for step in edits:
            step(project)

    return edit


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    expected: str
    prepare: Edit | None = None
    env: dict[str, str] = field(default_factory=dict)


LOCK_FILE = "rootfs-ci.lock"
IMAGES = ("apacheinit", "testrfs")

CATALOGUE = {
    # configuration
    "unknown image": Case(("build", "--image", "nosuch"), 2, "unknown image 'nosuch'"),
    "unknown config key": Case(
        ("build",), 2, "rootfs_ci.images.apacheinit.cmdd: unknown key", apacheinit("cmdd", ["/bin/sh"])
    ),
    "wrong type": Case(("build",), 2, "rootfs_ci.images.apacheinit.ports: expected a list", apacheinit("ports", "80")),
    "bad platform": Case(
        ("build",),
        2,
        "platforms[1]: input should be 'x86_64' or 'aarch64', got 'mips'",
        apacheinit("platforms", ["x86_64", "mips"]),
    ),
    "duplicate image": Case(("build",), 2, "key 'testrfs' appears twice", text("    apacheinit:\n", "    testrfs:\n")),
    "missing overlay dir": Case(
        ("build",),
        2,
        "overlay directory 'no-such-dir' does not exist",
        apacheinit("overlays", ["overlay", "no-such-dir"]),
    ),
    "permission rule escaping the rootfs": Case(
        ("build",), 2, "climbs out of the rootfs", apacheinit("permissions", {"/../etc/passwd": "0600"})
    ),
    "malformed invoke.yaml": Case(
        ("build",), 2, "invoke.yaml:4: not valid YAML", text("rootfs_ci:\n", "rootfs_ci:\n  images: {apacheinit: [\n")
    ),
    "our key not a mapping": Case(
        ("build",), 2, "rootfs_ci: expected a mapping of settings", text("rootfs_ci:\n", "rootfs_ci: [x]\nother:\n")
    ),
    "no images and no default": Case(
        ("build",),
        2,
        "declares no images; add one under rootfs_ci.images",
        config(lambda d: d["rootfs_ci"].update(images={}) or d["rootfs_ci"].pop("default_image")),
    ),
    "configured smoke spec missing": Case(
        ("pipeline",),
        2,
        "specs/none.yaml does not exist; write it, set rootfs_ci.images.apacheinit.smoke_spec",
        apacheinit("smoke_spec", "specs/none.yaml"),
    ),
    "bad SOURCE_DATE_EPOCH": Case(
        ("build",), 2, "SOURCE_DATE_EPOCH='yesterday'", env={"SOURCE_DATE_EPOCH": "yesterday"}
    ),
    "unknown arch": Case(("build", "--arch", "mips"), 2, "architecture 'mips' is not in this image's platforms"),
    "unknown backend": Case(("build", "--backend", "nix"), 3, "unknown backend 'nix'"),
    # rootfs backends
    "unknown Debian package": Case(
        ("build",),
        3,
        "no-such-package-xyz (amd64) not in bookworm, bookworm-updates, bookworm-security (main)",
        unlocked(debian(lambda d: d["packages"].append("no-such-package-xyz"))),
    ),
    "unreachable mirror": Case(
        ("build", "--image", "testrfs"),
        3,
        "cannot fetch the bookworm InRelease (http://127.0.0.1:1/debian/dists/bookworm/InRelease: ConnectionError)",
        unlocked(),
        env={"ROOTFS_CI_DEBIAN_MIRROR": "http://127.0.0.1:1/debian"},
    ),
    "library in no package": Case(
        ("build",),
        3,
        "libapr-1.so.0 (needed by /usr/bin/httpd)",
        unlocked(debian(lambda d: d["packages"].remove("libapr1"))),
    ),
    "lock older than invoke.yaml": Case(
        ("build",),
        2,
        "apacheinit/x86_64/debian no longer matches invoke.yaml (packages changed); run invoke lock --update",
        debian(lambda d: d["packages"].remove("libapr1")),
    ),
    "--locked with no lock entry": Case(("build", "--locked"), 2, "--locked forbids writing one", unlocked()),
    "mapped file in no package": Case(
        ("build",),
        2,
        "debian.files: /usr/sbin/nothing is in none of the packages",
        debian(lambda d: d["files"].update({"/usr/sbin/nothing": "/usr/bin/x"})),
    ),
    "httpd module in no package": Case(
        ("build",),
        3,
        "loads modules/mod_nothing.so, which no package provides",
        text(
            "LoadModule dir_module",
            "LoadModule nothing_module modules/mod_nothing.so\nLoadModule dir_module",
            "overlay/etc/apache2/httpd.conf",
        ),
    ),
    # images
    "image before build": Case(("image",), 2, "run 'invoke build --image apacheinit --arch x86_64' first"),
    "rootfs changed since build": Case(
        ("image",),
        5,
        "is missing or changed since its build",
        chain(build(), append_byte("dist/apacheinit/x86_64/rootfs.tar")),
    ),
    "bad semver in CHANGELOG": Case(
        ("image",),
        2,
        "'## [1.0]' is not a semantic version",
        chain(build(), text("## [Unreleased]", "## [Unreleased]\n\n## [1.0] - 2026-01-01", "CHANGELOG.md")),
    ),
    "engine not running": Case(
        ("image", "--image", "testrfs"),
        4,
        "cannot reach the Docker engine",
        build("testrfs"),
        {"DOCKER_HOST": "unix:///nonexistent/no-engine.sock"},
    ),
    # smoke
    "smoke of an image not in the engine": Case(
        ("smoke", "--tag", "never-built"), 2, "image apacheinit:never-built is not in the engine"
    ),
    "missing smoke spec": Case(("smoke", "--spec", "nope.yaml"), 2, "smoke spec nope.yaml does not exist"),
    "bad smoke spec": Case(
        ("smoke",),
        2,
        "tests/smoke/apacheinit.yaml:7: metadataTest.cmdd: unknown key",
        text("  cmd: [/bin/start.sh]", "  cmdd: [/bin/start.sh]", "tests/smoke/apacheinit.yaml"),
    ),
    "smoke with the engine down": Case(
        ("smoke",), 4, "cannot reach the Docker engine", env={"DOCKER_HOST": "unix:///nonexistent/no-engine.sock"}
    ),
    # versions and tags
    "release outside git": Case(("release", "--bump", "minor", "--dry-run"), 2, "is not in a git repository"),
    "release on a dirty tree": Case(
        ("release", "--bump", "minor"),
        2,
        "uncommitted changes",
        chain(git_repo, text("## [Unreleased]", "## [Unreleased]\n\n### Added\n- x", "CHANGELOG.md")),
    ),
    "bad tag rule": Case(
        ("tags", "--ref", "refs/tags/v1.0.0", "--sha", "0123456789abcdef", "--rule", "type=semvr,pattern={{version}}"),
        2,
        "unknown type 'semvr'",
    ),
    # stage records
    "a rootfs.json from another rootfs-ci": Case(
        ("image",),
        2,
        "rootfs.json was written by another rootfs-ci version (record schema none, this one reads 1); "
        "rebuild with this rootfs-ci: invoke build --image apacheinit --arch x86_64",
        write("dist/apacheinit/x86_64/rootfs.json", '{"stage": "build", "rootfs": {"path": "rootfs.tar"}}'),
    ),
    "a malformed image.json": Case(
        ("publish",),
        2,
        "image.json is malformed (arch: Field required); rebuild with this rootfs-ci: invoke image --image apacheinit",
        write("dist/apacheinit/x86_64/image.json", '{"schema": 1, "stage": "image", "image": "apacheinit"}'),
    ),
    # publish
    "publish without a smoke-tested image": Case(("publish",), 2, "image.json does not exist"),
    "verify before any image": Case(("verify", "--registry", "127.0.0.1:1", "--tag", "0.1.0"), 2, "run 'invoke image"),
    "qemu for an unknown arch": Case(("qemu.setup", "--arch", "mips"), 2, "unknown architecture 'mips'"),
    # diff
    "diff before any image": Case(("diff", "--against", "./old"), 5, "image.tar does not exist; run 'invoke image'"),
    "diff against a short digest": Case(("diff", "--against", "sha256:abc"), 2, "64 lowercase hex digits"),
    "diff in an unknown format": Case(("diff", "--format", "html"), 2, "--format 'html' is not one of text"),
}


def check_one_clean_line(result: subprocess.CompletedProcess[str], code: int, expected: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("[")]  # progress lines start with [
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rootfs-ci: error: ")
    assert expected in lines[0]


def test_the_catalogue_is_large_enough() -> None:
    assert len(CATALOGUE) >= 25


@pytest.mark.parametrize("name", CATALOGUE, ids=list(CATALOGUE))
def test_bad_input(name: str, project: Project, engine, shared_cache: Path) -> None:
    case = CATALOGUE[name]
    if case.prepare is not None:
        case.prepare(project)
    dist_before = project.files("dist")
    lock_before = (project.path / LOCK_FILE).read_bytes() if (project.path / LOCK_FILE).exists() else None
    tags_before = created_by(engine, 0, IMAGES)[1]
    env = {key: value.replace("{project}", str(project.path)) for key, value in case.env.items()}
    result = project.invoke(*case.args, env=env)
    check_one_clean_line(result, case.code, case.expected)
    assert project.files("dist") == dist_before
    assert ((project.path / LOCK_FILE).read_bytes() if (project.path / LOCK_FILE).exists() else None) == lock_before
    scratch = shared_cache / "tmp"
    assert not scratch.exists() or list(scratch.iterdir()) == []
    containers, tags = created_by(engine, result.pid, IMAGES)
    assert containers == set()  # no container of this run
    assert tags - tags_before == set()  # no new local tag of the project's images


# -- registry input and hostile registries (issue 20) ----------------------------------------

REGISTRY_CATALOGUE = {
    "registry target with a newline": Case(
        ("publish", "--registry", "127.0.0.1:5601\n/ns"), 2, "does not start with a host like ghcr.io"
    ),
    "registry target with credentials": Case(
        ("publish", "--registry", "ci-user:hunter2-s3cret@127.0.0.1:5601/ns"),
        2,
        "registry target '***@127.0.0.1:5601/ns' holds credentials; give only HOST[:PORT][/NAMESPACE]",
    ),
    "plain HTTP to a *.localhost registry": Case(
        ("publish", "--registry", "http://registry.localhost:5000"), 2, "plain HTTP is only allowed on loopback"
    ),
    "tag with a newline": Case(
        ("verify", "--registry", "127.0.0.1:1", "--tag", "1.0.0\n"), 2, "tag '1.0.0\\n' is not a valid image tag"
    ),
    "index digest with a newline": Case(
        ("publish-index", "--registry", "127.0.0.1:1", "--digest", "x86_64=sha256:" + "0" * 64 + "\n"),
        2,
        "is not ARCH=sha256:<64 hex digits>",
    ),
}


@pytest.mark.parametrize("name", list(REGISTRY_CATALOGUE))
def test_bad_registry_input(
    name: str, project: Project, engine, shared_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CATALOGUE, name, REGISTRY_CATALOGUE[name])  # the checks of test_bad_input
    test_bad_input(name, project, engine, shared_cache)


def stage_apacheinit(project: Project) -> str:
    """dist/apacheinit/x86_64 as the image and smoke stages leave it (a tiny image); its manifest digest."""
    from tests.registry_fixtures import write_records, write_tiny_image

    directory = project.path / "dist" / "apacheinit" / "x86_64"
    written = write_tiny_image(directory, b"hostile", reference="apacheinit:dev")
    write_records(directory, "apacheinit", "x86_64", written)
    return written.manifest.digest


HOSTILE_REGISTRIES = ("oversized manifest", "digest header naming other bytes", "https upload Location over http")


@pytest.mark.parametrize("name", list(HOSTILE_REGISTRIES))
def test_hostile_registry(
    name: str, project: Project, engine, shared_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scriptable registry on loopback: one line, exit 7, nothing written, no tag pushed."""
    from tests.fakeregistry import FakeServer
    from tests.registry_fixtures import make_cert

    digest: list[str] = []
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'

    def answer(fake, handler, seen) -> None:  # type: ignore[no-untyped-def]
        if name == "oversized manifest":
            fake.stream(handler, 2 << 30, declare=False)
        elif name == "digest header naming other bytes":
            fake.reply(handler, 200, body, {"Docker-Content-Digest": digest[0]})
        elif seen.method == "POST":
            fake.reply(handler, 202, headers={"Location": f"http://{fake.address}/v2/apacheinit/blobs/uploads/1"})
        else:
            fake.reply(handler, 404 if seen.method in ("HEAD", "GET") else 201)

    cert, key = make_cert(tmp_path / "tls", "fake")
    with FakeServer(answer, tls=(cert, key) if name.startswith("https") else None) as fake:
        if name.startswith("https"):
            args: tuple[str, ...] = ("publish", "--registry", fake.url)
            env = {
                "ROOTFS_CI_REGISTRY_USER": "u",
                "ROOTFS_CI_REGISTRY_PASSWORD": "p",
                "ROOTFS_CI_REGISTRY_CA_FILE": str(cert),
            }
            expected = "sent PUT to plain HTTP"
        else:
            args, env = ("verify", "--registry", fake.address, "--tag", "1.0.0"), {}
            expected = "sent more than 4 MiB" if name.startswith("oversized") else "sent manifest bytes for"
        prepare = lambda project: digest.append(stage_apacheinit(project))  # noqa: E731
        monkeypatch.setitem(CATALOGUE, name, Case(args, 7, expected, prepare, env))
        test_bad_input(name, project, engine, shared_cache)
    assert [seen for seen in fake.seen if seen.scheme == "http" and fake.scheme == "https"] == []
    assert not [seen for seen in fake.seen if seen.method == "PUT" and "/manifests/" in seen.path]


# ---- issue 20: option injection, whole-string matching, long paths, huge and external overlays ----

PKGCACHE = "pkgcache.bin"  # where apt would write if a package name reached it as an option


def overlay_files(files: dict[str, str | int], overlays: list[str]) -> Edit:
    """Write overlay entries (text, a symlink target after '->', or a sparse file of N bytes); set the overlays."""

    def edit(project: Project) -> None:
        for relative, content in files.items():
            path = project.path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, int):
                with path.open("wb") as handle:
                    handle.truncate(content)
            elif content.startswith("->"):
                path.symlink_to(content[2:])
            else:
                path.write_text(content)
        apacheinit("overlays", overlays)(project)

    return edit


HOSTILE = {
    "package name that is an apt option": Case(
        ("build",),
        2,
        "debian.packages: '-oDir::Cache::pkgcache=/",
        lambda project: debian(lambda d: d["packages"].append(f"-oDir::Cache::pkgcache={project.path / PKGCACHE}"))(
            project
        ),
    ),
    "package name with a newline": Case(
        ("build",),
        2,
        r"'busy\nbox' is not a valid Debian package name",
        debian(lambda d: d["packages"].append("busy\nbox")),
    ),
    "spec path with a newline": Case(("smoke", "--spec", "no\npe.yaml"), 2, r"smoke spec no\npe.yaml does not exist"),
    "image name with a final newline": Case(
        ("build",), 2, r"image name 'testrfs\n' must be lowercase", text("    testrfs:\n", '    "testrfs\\n":\n')
    ),
    "overlay outside the project": Case(
        ("build",), 2, "overlay directory '/tmp' is outside the project", apacheinit("overlays", ["/tmp"])
    ),
    "overlay climbing out with ..": Case(
        ("build",), 2, "overlay directory '..' is outside the project", apacheinit("overlays", [".."])
    ),
    "overlay name too long for the file system": Case(
        ("build",), 2, "cannot be used (File name too long)", apacheinit("overlays", ["x" * 300])
    ),
    "overlay path too long through a symlink": Case(
        ("build",),
        3,
        "lnk cannot be copied (File name too long)",
        overlay_files(
            {"overlay-a/lnk": "->" + "x" * 300, "overlay-b/lnk/file": "x"}, ["overlay", "overlay-a", "overlay-b"]
        ),
    ),
    "sparse 1 GiB file in an overlay": Case(
        ("build",),
        3,
        "max_rootfs_bytes (536870912); the largest file is /srv/huge (1073741824 bytes",
        overlay_files({"overlay-big/srv/huge": 1 << 30}, ["overlay", "overlay-big"]),
    ),
    "defconfig that is a make option": Case(
        ("build",),
        2,
        "'-f/tmp/Makefile' is not a valid defconfig",
        apacheinit("buildroot", {"defconfig": "-f/tmp/Makefile"}),
    ),
    "Buildroot URL that is a git option": Case(
        ("build",),
        2,
        "buildroot.git_url: '--upload-pack=touch /tmp/x' is not a valid git URL",
        config(lambda data: data["rootfs_ci"].update(buildroot={"git_url": "--upload-pack=touch /tmp/x"})),
    ),
}


@pytest.mark.parametrize("name", HOSTILE, ids=list(HOSTILE))
def test_hostile_input(name: str, project: Project, engine, shared_cache: Path, monkeypatch) -> None:
    """The catalogue's checks, for the cases above."""
    monkeypatch.setitem(CATALOGUE, name, HOSTILE[name])
    test_bad_input(name, project, engine, shared_cache)
    assert not list(project.path.glob(PKGCACHE + "*"))  # apt never saw a name as an option
