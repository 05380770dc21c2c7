"""CycloneDX SBOMs from Buildroot's show-info and from the debian backend's package record."""

from __future__ import annotations

import json
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from rootfs_ci.sbom import Subject, buildroot_sbom, debian_sbom

SUBJECT = Subject(image="apacheinit", arch="x86_64", backend="buildroot", rootfs_sha256="ab" * 32, epoch=1781643700)

# In the shape of `make show-info` from Buildroot 2026.02 (entries trimmed to what the SBOM reads).
SHOW_INFO = {
    "apache": {
        "type": "target", "name": "apache", "virtual": False, "version": "2.4.67", "licenses": "Apache-2.0",
        "downloads": [{"source": "httpd-2.4.67.tar.bz2", "uris": [
            "https+https://archive.apache.org/dist/httpd",
            "https|urlencode+https://sources.buildroot.net/apache",
        ]}],
        "hashes": ["package/apache/apache.hash"],
        "stamp_dir": "build/apache-2.4.67",
        "dependencies": ["apr", "host-pkgconf", "toolchain"],
        "cpe-id": "cpe:2.3:a:apache:http_server:2.4.67:-:*:*:*:*:*:*",
    },
    "apr": {
        "type": "target", "name": "apr", "virtual": False, "version": "1.7.6", "licenses": "Apache-2.0",
        "downloads": [], "hashes": [], "dependencies": ["toolchain"],
    },
    "glibc": {
        "type": "target", "name": "glibc", "virtual": False, "version": "2.42-67-g4ebd33dd",
        "licenses": "GPL-2.0+ (programs), LGPL-2.1+, BSD-3-Clause, MIT (library)",
        "downloads": [{"source": "glibc-2.42-67-g4ebd33dd-git4.tar.gz", "uris": [
            "git+https://sourceware.org/git/glibc.git",
        ]}],
        "hashes": [], "dependencies": [],
    },
    "initscripts": {"type": "target", "name": "initscripts", "virtual": False, "version": "", "licenses": "unknown",
                    "dependencies": []},
    "toolchain": {"type": "target", "name": "toolchain", "virtual": True, "dependencies": ["host-pkgconf"]},
    "host-pkgconf": {
        "type": "host", "name": "pkgconf", "virtual": False, "version": "2.3.0", "licenses": "pkgconf license",
        "dependencies": [],
    },
    "rootfs-tar": {"type": "rootfs", "image_name": "rootfs.tar", "dependencies": ["rootfs-common"]},
}  # fmt: skip

DEBIAN_PACKAGES = [
    {
        "name": "busybox",
        "version": "1:1.35.0-4+b3",
        "arch": "amd64",
        "sha256": "11" * 32,
        "file": "b.deb",
        "used": True,
    },
    {"name": "libc6", "version": "2.36-9+deb12u9", "arch": "amd64", "sha256": "22" * 32, "file": "l.deb", "used": True},
    {
        "name": "tzdata",
        "version": "2024a-0+deb12u1",
        "arch": "all",
        "sha256": "33" * 32,
        "file": "t.deb",
        "used": False,
    },
]


def assert_valid(text: str) -> dict:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error
    return json.loads(text)


def by_ref(bom: dict) -> dict[str, dict]:
    return {component["bom-ref"]: component for component in bom["components"]}


def test_show_info_sbom_is_valid_cyclonedx_1_6(tmp_path: Path) -> None:
    (tmp_path / "package/apache").mkdir(parents=True)
    (tmp_path / "package/apache/apache.hash").write_text(
        "# Locally calculated\nsha256  " + "cd" * 32 + "  httpd-2.4.67.tar.bz2\nsha256  " + "ef" * 32 + "  LICENSE\n"
    )
    bom = assert_valid(buildroot_sbom(SUBJECT, SHOW_INFO, "2026.02.3", tmp_path))
    assert bom["specVersion"] == "1.6"
    assert bom["metadata"]["timestamp"].startswith("2026-06-16T")
    assert bom["metadata"]["component"]["name"] == "apacheinit"
    assert bom["metadata"]["component"]["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    tools = {tool["name"]: tool["version"] for tool in bom["metadata"]["tools"]["components"]}
    assert tools["buildroot"] == "2026.02.3"

    components = by_ref(bom)
    # virtual packages and filesystems are not components
    assert set(components) == {
        "buildroot:apache", "buildroot:apr", "buildroot:glibc", "buildroot:initscripts", "buildroot:host-pkgconf",
    }  # fmt: skip
    apache = components["buildroot:apache"]
    assert (apache["version"], apache["scope"], apache["purl"]) == ("2.4.67", "required", "pkg:generic/apache@2.4.67")
    assert apache["cpe"] == SHOW_INFO["apache"]["cpe-id"]
    assert apache["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    # the package's own site, not Buildroot's mirror; the hash Buildroot checks the download against
    assert apache["externalReferences"] == [
        {
            "type": "source-distribution",
            "url": "https://archive.apache.org/dist/httpd/httpd-2.4.67.tar.bz2",
            "hashes": [{"alg": "SHA-256", "content": "cd" * 32}],
        }
    ]
    # build tools are recorded but are not in the rootfs
    assert components["buildroot:host-pkgconf"]["scope"] == "excluded"
    assert components["buildroot:host-pkgconf"]["name"] == "pkgconf"
    glibc = components["buildroot:glibc"]
    assert glibc["externalReferences"][0]["type"] == "vcs"
    # SPDX identifiers as ids, Buildroot's annotated entries as names; commas in parentheses stay
    assert sorted(json.dumps(entry["license"]) for entry in glibc["licenses"]) == sorted(
        json.dumps(entry)
        for entry in (
            {"name": "GPL-2.0+ (programs)"},
            {"id": "LGPL-2.1+"},
            {"id": "BSD-3-Clause"},
            {"name": "MIT (library)"},
        )
    )
    assert "licenses" not in components["buildroot:initscripts"]
    assert "version" not in components["buildroot:initscripts"]

    dependencies = {entry["ref"]: entry.get("dependsOn", []) for entry in bom["dependencies"]}
    assert dependencies["buildroot:apache"] == ["buildroot:apr", "buildroot:host-pkgconf"]
    assert dependencies["rootfs:apacheinit/x86_64"] == [
        "buildroot:apache", "buildroot:apr", "buildroot:glibc", "buildroot:initscripts",
    ]  # fmt: skip


def test_same_inputs_give_the_same_bytes() -> None:
    first = buildroot_sbom(SUBJECT, SHOW_INFO, "2026.02.3")
    assert buildroot_sbom(SUBJECT, SHOW_INFO, "2026.02.3") == first
    other = Subject(**{**SUBJECT.__dict__, "rootfs_sha256": "cd" * 32})
    assert (
        json.loads(buildroot_sbom(other, SHOW_INFO, "2026.02.3"))["serialNumber"] != json.loads(first)["serialNumber"]
    )


def test_without_the_buildroot_tree_there_are_no_source_hashes() -> None:
    bom = assert_valid(buildroot_sbom(SUBJECT, SHOW_INFO, "2026.02.3"))
    assert "hashes" not in by_ref(bom)["buildroot:apache"]["externalReferences"][0]


def test_debian_sbom_from_the_package_record() -> None:
    subject = Subject(image="apacheinit", arch="x86_64", backend="debian", rootfs_sha256="ab" * 32, epoch=0)
    text = debian_sbom(subject, DEBIAN_PACKAGES)
    bom = assert_valid(text)
    assert text == debian_sbom(subject, DEBIAN_PACKAGES)
    components = {component["name"]: component for component in bom["components"]}
    busybox = components["busybox"]
    assert busybox["purl"] == "pkg:deb/debian/busybox@1:1.35.0-4%2Bb3?arch=amd64"
    assert busybox["version"] == "1:1.35.0-4+b3"
    assert busybox["hashes"] == [{"alg": "SHA-256", "content": "11" * 32}]
    assert busybox["scope"] == "required"
    assert components["tzdata"]["purl"] == "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all"
    assert components["tzdata"]["scope"] == "excluded"  # fetched, but nothing of it is in the rootfs
    root = next(entry for entry in bom["dependencies"] if entry["ref"] == "rootfs:apacheinit/x86_64")
    assert root["dependsOn"] == sorted(components[name]["bom-ref"] for name in ("busybox", "libc6"))
    properties = {p["name"]: p["value"] for p in bom["metadata"]["component"]["properties"]}
    assert properties == {"rootfs-ci:arch": "x86_64", "rootfs-ci:backend": "debian"}
