"""Configuration: every mistake is one line naming file:line, the dotted key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rootfs_ci.config import NAMESPACE, Settings, parse_config, preflight, source_date_epoch
from rootfs_ci.docs import TABLE_FILE, config_table, with_config_table
from rootfs_ci.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> dict:
    (tmp_path / "invoke.yaml").write_text(text)
    (tmp_path / "overlay").mkdir(exist_ok=True)
    return yaml.safe_load(text)[NAMESPACE]


GOOD = """\
rootfs_ci:
  images:
    web:
      overlays: [overlay]
      cmd: [/bin/start.sh]
      ports: [80]
      debian:
        packages: [busybox]
  default_image: web
"""


def test_the_repository_config_is_valid() -> None:
    raw = yaml.safe_load((REPO / "invoke.yaml").read_text())[NAMESPACE]
    config = parse_config(raw, REPO)
    assert set(config.images) == {"testrfs", "apacheinit"}
    assert config.images["apacheinit"].cmd == ("/bin/start.sh",)
    assert config.images["apacheinit"].ports == (80,)
    assert config.images["testrfs"].cmd == ("/bin/sh",)


def test_good_config_parses_with_defaults(tmp_path: Path) -> None:
    config = parse_config(write(tmp_path, GOOD), tmp_path)
    assert config.dist_dir == "dist"
    assert config.images["web"].platforms == ("x86_64",)
    assert config.images["web"].debian.busybox_links is True


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("      ports: [80]", "      portz: [80]", "invoke.yaml:6: rootfs_ci.images.web.portz: unknown key"),
        ("      ports: [80]", "      ports: 80", "invoke.yaml:6: rootfs_ci.images.web.ports: expected a list"),
        ("      ports: [80]", "      ports: [99999]", "rootfs_ci.images.web.ports: port 99999 is outside 1-65535"),
        ("      ports: [80]", '      ports: ["80"]', "rootfs_ci.images.web.ports[0]: expected a whole number"),
        ("      cmd: [/bin/start.sh]", "      cmd: /bin/start.sh", "rootfs_ci.images.web.cmd: expected a list"),
        ("      cmd: [/bin/start.sh]", "      cmd: []", "cmd must name a program"),
        ("      overlays: [overlay]", "      overlays: [missing]", "invoke.yaml:4: rootfs_ci.images.web.overlays[0]"),
        ("  default_image: web", "  default_image: nope", "invoke.yaml:9: rootfs_ci.default_image: 'nope' is not one"),
        ("    web:", "    Web:", "image name 'Web' must be lowercase"),
        ("        packages: [busybox]", "        packages: []", "debian backend needs at least one package"),
        ("        packages: [busybox]", "        packages: [busybox]\n        pkgs: [x]", "debian.pkgs: unknown key"),
    ],
)
def test_mistakes_name_file_line_key_and_fix(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    raw = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, tmp_path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_unknown_key_lists_the_valid_keys(tmp_path: Path) -> None:
    raw = write(tmp_path, GOOD.replace("      ports: [80]", "      portz: [80]"))
    with pytest.raises(ConfigError, match="valid keys here: backend, buildroot, cmd"):
        parse_config(raw, tmp_path)


def test_preflight_reports_bad_yaml_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "invoke.yaml").write_text("rootfs_ci:\n  images: {web: [\n")
    with pytest.raises(ConfigError, match=r"^invoke.yaml:3: not valid YAML"):
        preflight(tmp_path)


def test_other_top_level_keys_are_left_alone(tmp_path: Path) -> None:
    """Invoke's keys, other task libraries' and the project's own sit next to ours."""
    text = GOOD + "run: {echo: true}\npackaging: {sign: true}\nmy_project: {docs_dir: site}\n"
    write(tmp_path, text)
    preflight(tmp_path)  # raises on anything it refuses
    config = parse_config(yaml.safe_load(text)[NAMESPACE], tmp_path)
    assert set(config.images) == {"web"}


def test_our_key_must_be_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "invoke.yaml").write_text("packaging: {}\nrootfs_ci: [web]\n")
    with pytest.raises(ConfigError, match=r"^invoke.yaml:2: rootfs_ci: expected a mapping of settings"):
        preflight(tmp_path)


def test_default_image_is_the_first_image_when_not_set(tmp_path: Path) -> None:
    text = GOOD.replace("  default_image: web\n", "").replace(
        "  images:\n", "  images:\n    api: {backend: buildroot}\n"
    )
    settings = Settings(tmp_path, parse_config(write(tmp_path, text), tmp_path), 0)
    assert settings.default_image == "api"
    assert settings.image(None)[0] == "api"
    assert settings.smoke_spec("web") == tmp_path / "tests/smoke/web.yaml"


def test_no_images_and_no_default_is_one_clear_error(tmp_path: Path) -> None:
    settings = Settings(tmp_path, parse_config(write(tmp_path, "rootfs_ci: {}\n"), tmp_path), 0)
    with pytest.raises(ConfigError, match=r"invoke.yaml declares no images; add one under rootfs_ci.images"):
        settings.image(None)


def test_smoke_spec_location_is_per_image(tmp_path: Path) -> None:
    text = GOOD.replace("      ports: [80]\n", "      ports: [80]\n      smoke_spec: checks/web-smoke.yaml\n")
    settings = Settings(tmp_path, parse_config(write(tmp_path, text), tmp_path), 0)
    assert settings.smoke_spec("web") == tmp_path / "checks/web-smoke.yaml"


def test_source_date_epoch_prefers_the_environment(tmp_path: Path) -> None:
    assert source_date_epoch(tmp_path, {"SOURCE_DATE_EPOCH": "1700000000"}) == 1700000000
    assert source_date_epoch(tmp_path, {}) == 0  # not a git checkout
    with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH"):
        source_date_epoch(tmp_path, {"SOURCE_DATE_EPOCH": "yesterday"})


def test_configuration_reference_documents_every_config_key() -> None:
    reference = (REPO / TABLE_FILE).read_text()
    assert len(config_table()) > 20
    assert with_config_table(reference) == reference, f"{TABLE_FILE}'s table is stale: run python -m rootfs_ci.docs"
    assert '| `rootfs_ci.images.NAME.cmd` | list of string | `["/bin/sh"]` |' in reference


def test_duplicate_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "invoke.yaml").write_text(
        "rootfs_ci:\n  images:\n    web:\n      cmd: [/bin/sh]\n    web:\n      cmd: [/bin/ash]\n"
    )
    with pytest.raises(
        ConfigError, match=r"^invoke.yaml:5: not valid YAML \(key 'web' appears twice \(first on line 3\)\)"
    ):
        preflight(tmp_path)


def image_with(tmp_path: Path, **debian: object) -> dict:
    raw = write(tmp_path, GOOD)
    raw["images"]["web"]["debian"].update(debian)
    return raw


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("packages", ["-oDir::Cache::pkgcache=/tmp/x"], "is not a valid Debian package name"),
        ("packages", ["busy\nbox"], r"'busy\\nbox' is not a valid Debian package name"),
        ("packages", ["busybox\n"], "is not a valid Debian package name"),
        ("packages", ["Busybox"], "is not a valid Debian package name"),
        ("packages", ["b"], "is not a valid Debian package name"),
        ("dlopen", ["--library-path=/tmp"], "is not a valid soname"),
        ("dlopen", ["../../etc/libx.so"], "is not a valid soname"),
        ("busybox_applets", ["--install"], "is not a valid busybox applet name"),
        ("busybox_applets", ["../sh"], "is not a valid busybox applet name"),
        ("files", {"bin/busybox": "/bin/busybox"}, "is not a valid absolute path"),
        ("files", {"/bin/busybox": "/bin/busy\nbox"}, "is not a valid absolute path"),
    ],
)
def test_debian_names_follow_their_grammar(tmp_path: Path, key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"rootfs_ci\.images\.web\.debian\.{key}: .*{message}") as caught:
        parse_config(image_with(tmp_path, **{key: value}), tmp_path)
    assert "\n" not in str(caught.value)


def test_valid_debian_names_pass(tmp_path: Path) -> None:
    raw = image_with(
        tmp_path,
        packages=["libstdc++6", "apache2-bin", "libpcre2-8-0", "g++-12"],
        dlopen=["libgcc_s.so.1", "libnss_files.so.2"],
        busybox_applets=["[", "[[", "ls", "sha256sum"],
        files={"/usr/sbin/apache2": "/usr/bin/httpd"},
    )
    assert parse_config(raw, tmp_path).images["web"].debian.packages[0] == "libstdc++6"


@pytest.mark.parametrize("name", ["web\n", "web\nx", "-web"])
def test_image_names_are_matched_whole(tmp_path: Path, name: str) -> None:
    raw = write(tmp_path, GOOD)
    raw["images"][name] = raw["images"].pop("web")
    raw["default_image"] = name
    with pytest.raises(ConfigError, match="must be lowercase letters, digits"):
        parse_config(raw, tmp_path)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("buildroot", "git_url", "--upload-pack=touch /tmp/x"),
        ("buildroot", "version", "--help"),
        ("buildroot", "version", "2026.02.3\n"),
    ],
)
def test_buildroot_pin_cannot_be_an_option(tmp_path: Path, section: str, key: str, value: str) -> None:
    raw = write(tmp_path, GOOD)
    raw[section] = {key: value}
    with pytest.raises(ConfigError, match=rf"rootfs_ci\.{section}\.{key}: .* is not a valid"):
        parse_config(raw, tmp_path)


def test_defconfig_name_cannot_be_an_option(tmp_path: Path) -> None:
    raw = write(tmp_path, GOOD)
    raw["images"]["web"]["buildroot"] = {"defconfig": "-f/tmp/Makefile"}
    with pytest.raises(ConfigError, match=r"buildroot\.defconfig: '-f/tmp/Makefile' is not a valid defconfig"):
        parse_config(raw, tmp_path)


def outside_overlay(tmp_path: Path, how: str) -> str:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    if how == "absolute":
        return str(outside)
    if how == "dotdot":
        return "../elsewhere"
    (project / "linked").symlink_to(outside)
    return "linked"


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_overlays_outside_the_project_need_explicit_permission(tmp_path: Path, how: str) -> None:
    overlay = outside_overlay(tmp_path, how)
    project = tmp_path / "project"
    raw = write(project, GOOD)
    raw["images"]["web"]["overlays"] = [overlay]
    with pytest.raises(ConfigError, match=r"overlays\[0\]: overlay directory .* is outside the project .*allow_ext"):
        parse_config(raw, project)
    raw["allow_external_overlays"] = True
    assert parse_config(raw, project).images["web"].overlays == (overlay,)


def test_an_overlay_name_too_long_for_the_file_system_is_one_line(tmp_path: Path) -> None:
    raw = write(tmp_path, GOOD)
    raw["images"]["web"]["overlays"] = ["x" * 300]
    with pytest.raises(
        ConfigError, match=r"overlays\[0\]: overlay directory 'x+' cannot be used \(File name too long\)"
    ):
        parse_config(raw, tmp_path)
