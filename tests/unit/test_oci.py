"""The image we write: config fields, digests that only depend on inputs, an archive both engines read."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from rootfs_ci.image.oci import ImageSettings, compress_layer, image_config, write_image_archive
from tests.registry_fixtures import rootfs_tar, write_tiny_image

SETTINGS = ImageSettings(
    arch="x86_64",
    cmd=("/bin/start.sh",),
    ports=(80,),
    labels={"org.opencontainers.image.version": "1.2.3"},
    epoch=1_700_000_000,
    created_by="test",
)


def test_config_carries_cmd_ports_labels_arch_and_created() -> None:
    config = image_config(SETTINGS, "sha256:" + "0" * 64)
    assert config["architecture"] == "amd64"
    assert "variant" not in config
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert config["config"]["Cmd"] == ["/bin/start.sh"]
    assert "Entrypoint" not in config["config"]
    assert config["config"]["ExposedPorts"] == {"80/tcp": {}}
    assert config["config"]["Labels"] == {"org.opencontainers.image.version": "1.2.3"}
    assert config["rootfs"]["diff_ids"] == ["sha256:" + "0" * 64]


def test_arm64_gets_its_variant() -> None:
    config = image_config(ImageSettings("aarch64", ("/bin/sh",), (), {}, 0, "t"), "sha256:" + "0" * 64)
    assert (config["architecture"], config["variant"]) == ("arm64", "v8")


def write(tmp_path: Path, name: str, reference: str) -> tuple[Path, object]:
    rootfs = tmp_path / "rootfs.tar"
    if not rootfs.exists():
        with tarfile.open(rootfs, "w") as tar:
            info = tarfile.TarInfo("etc")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
    sha = hashlib.sha256(rootfs.read_bytes()).hexdigest()
    out = tmp_path / name
    out.mkdir()
    written = write_image_archive(rootfs, sha, out / "layer.tar.gz", out / "image.tar", SETTINGS, reference)
    return out / "image.tar", written


def test_digests_depend_only_on_inputs_and_the_archive_is_consistent(tmp_path: Path) -> None:
    archive_a, a = write(tmp_path, "a", "web:dev")
    _, b = write(tmp_path, "b", "web:other")
    assert (a.config, a.manifest, a.layer) == (b.config, b.manifest, b.layer)  # type: ignore[attr-defined]
    with tarfile.open(archive_a) as tar:
        names = tar.getnames()
        docker_manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        manifest_blob = tar.extractfile(index["manifests"][0]["digest"].replace("sha256:", "blobs/sha256/")).read()  # type: ignore[union-attr]
        for member in tar.getmembers():
            if member.name.startswith("blobs/sha256/") and member.isfile():
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                assert hashlib.sha256(data).hexdigest() == member.name.rsplit("/", 1)[1]
    assert {"oci-layout", "index.json", "manifest.json"} <= set(names)
    assert docker_manifest[0]["RepoTags"] == ["web:dev"]
    manifest = json.loads(manifest_blob)
    assert manifest["config"]["digest"] == a.config.digest  # type: ignore[attr-defined]
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"


def test_a_planted_or_altered_cached_layer_is_rebuilt_never_read_through(tmp_path: Path) -> None:
    honest = write_tiny_image(tmp_path / "honest", b"cache")
    rootfs = tmp_path / "rootfs.tar"
    sha = rootfs_tar(rootfs, {"etc/file0": b"cache0"})
    other = tmp_path / "other.tar.gz"
    rootfs_tar(tmp_path / "x.tar", {"etc/evil": b"planted"})
    planted = compress_layer(tmp_path / "x.tar", other)
    settings = ImageSettings("x86_64", ("/bin/sh",), (), {"org.opencontainers.image.version": "test"}, 0, "test")
    cache = tmp_path / "layers" / f"{sha}.tar.gz"
    cache.parent.mkdir()
    for plant in ("symlink", "altered"):
        cache.unlink(missing_ok=True)
        if plant == "symlink":
            cache.symlink_to(other)
        else:
            cache.write_bytes(other.read_bytes())
        archive = tmp_path / "image.tar"
        written = write_image_archive(rootfs, sha, cache, archive, settings, "tiny:dev", reuse_layer=True)
        assert written.layer.digest == honest.layer.digest != planted.digest, plant
        assert written.layer_note.startswith("rebuilt"), plant
        assert not cache.is_symlink()
        assert "sha256:" + hashlib.sha256(other.read_bytes()).hexdigest() == planted.digest  # never written through
    again = write_image_archive(rootfs, sha, cache, tmp_path / "image.tar", settings, "tiny:dev", reuse_layer=True)
    assert (again.layer.digest, again.layer_note) == (honest.layer.digest, "reused")
