"""Tag rules: metadata-action's results (tests/data/tag_vectors.yaml), one-line errors, `invoke tags`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from rootfs_ci.config import DEFAULT_TAG_RULES
from rootfs_ci.errors import ConfigError
from rootfs_ci.tags import compute_tags, current_ref, current_sha, parse_flavor, parse_rule, parse_rules, sanitize_tag
from tests.helpers import Project

VECTORS = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data" / "tag_vectors.yaml").read_text(encoding="utf-8")
)
SHA = VECTORS["sha"]


def test_vectors_use_rootfs_ci_default_rules() -> None:
    assert tuple(VECTORS["default_rules"]) == DEFAULT_TAG_RULES


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[case["name"] for case in VECTORS["cases"]])
def test_metadata_action_vectors(case: dict[str, Any]) -> None:
    rules = VECTORS["default_rules"] if case["rules"] == "default" else case["rules"]
    tags = compute_tags(
        case["ref"], case.get("sha", SHA), rules, case.get("flavor", []), case.get("default_branch", "main")
    )
    assert tags == case["tags"]


def test_parse_rule_fills_metadata_action_defaults() -> None:
    sha = parse_rule("type=sha")
    assert (sha.type, sha.priority, dict(sha.attrs)) == (
        "sha",
        100,
        {"prefix": "sha-", "format": "short", "enable": "true", "priority": "100"},
    )
    pr = parse_rule(" type=ref , event=pr ")
    assert (pr.priority, pr.attrs["prefix"]) == (600, "pr-")
    assert parse_rule("v01").type == "raw"
    assert parse_rule("v01").attrs["value"] == "v01"
    assert parse_rule("TYPE=edge").priority == 700


def test_rules_sort_by_priority_keeping_ties_in_order() -> None:
    rules = parse_rules(["type=sha", "type=raw,value=a", "type=semver,pattern={{version}}", "type=raw,value=b"])
    assert [rule.line for rule in rules] == [
        "type=semver,pattern={{version}}",
        "type=raw,value=a",
        "type=raw,value=b",
        "type=sha",
    ]
    assert [rule.line for rule in parse_rules(["# a comment", "  ", "type=edge"])] == ["type=edge"]


def test_flavor_lines() -> None:
    flavor = parse_flavor(["latest=false", "prefix=a-,onlatest=true", "suffix=-b"])
    assert (flavor.latest, flavor.prefix, flavor.prefix_latest, flavor.suffix, flavor.suffix_latest) == (
        "false",
        "a-",
        True,
        "-b",
        False,
    )


def test_sanitize_tag() -> None:
    assert sanitize_tag("feature/x") == "feature-x"
    assert sanitize_tag("a//b  c+d") == "a-b-c-d"
    assert sanitize_tag("Keep_Case.1-2") == "Keep_Case.1-2"


BAD_RULES = {
    "unknown type": (
        ["type=semvr,pattern={{version}}"],
        "tag rule 'type=semvr,pattern={{version}}': unknown type 'semvr'; use one of semver, ref, sha, raw, edge",
    ),
    "unsupported type": (["type=pep440,pattern={{version}}"], "type 'pep440' is not supported by rootfs-ci"),
    "unknown key": (["type=sha,fromat=long"], "unknown key 'fromat' for type=sha; use type, enable, priority"),
    "semver without pattern": (["type=semver"], "type=semver needs pattern="),
    "unknown pattern expression": (["type=semver,pattern={{mayor}}"], "unknown expression {{mayor}} in pattern"),
    "unbalanced braces": (["type=semver,pattern={{version}"], "unbalanced '{{' or '}}' in pattern"),
    "match without group": (["type=semver,pattern={{version}},match=v\\d"], "match needs a (group)"),
    "ref without event": (["type=ref"], "type=ref needs event=branch or event=tag or event=pr"),
    "ref with bad event": (["type=ref,event=push"], "type=ref needs event="),
    "raw without value": (["type=raw,prefix=x"], "type=raw needs value="),
    "sha format": (["type=sha,format=medium"], "format must be short or long, not 'medium'"),
    "priority": (["type=sha,priority=high"], "priority must be a whole number, not 'high'"),
    "unsupported expression": (["type=raw,value={{date 'YYYYMMDD'}}"], "{{date}} is not supported by rootfs-ci"),
    "unknown global expression": (["type=raw,value={{ref}}"], "unknown expression {{ref}} in value"),
    "enable not boolean": (["type=sha,enable=yes"], "enable gives 'yes'; it must give true or false"),
    "bad quoting": (['type=raw,"value=a"b'], "not a comma-separated line"),
}


@pytest.mark.parametrize("case", BAD_RULES, ids=list(BAD_RULES))
def test_bad_rule_is_one_clear_line(case: str) -> None:
    rules, expected = BAD_RULES[case]
    with pytest.raises(ConfigError) as error:
        compute_tags("refs/heads/main", SHA, rules, [])
    assert expected in str(error.value)
    assert "\n" not in str(error.value)
    assert error.value.exit_code == 2


BAD_FLAVORS = {
    "latest value": (["latest=maybe"], "flavor 'latest=maybe': latest must be auto, true or false, not 'maybe'"),
    "no value": (["latest"], "'latest' needs a value"),
    "unknown key": (["prefx=a"], "unknown key 'prefx'; use latest, prefix, suffix, onlatest"),
    "onlatest value": (["prefix=a,onlatest=yes"], "onlatest must be true or false, not 'yes'"),
}


@pytest.mark.parametrize("case", BAD_FLAVORS, ids=list(BAD_FLAVORS))
def test_bad_flavor_is_one_clear_line(case: str) -> None:
    flavor, expected = BAD_FLAVORS[case]
    with pytest.raises(ConfigError, match=r"^flavor ") as error:
        compute_tags("refs/heads/main", SHA, DEFAULT_TAG_RULES, flavor)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("ref", "sha", "expected"),
    [
        ("v1.2.3", SHA, "ref 'v1.2.3' is not a full git ref; use refs/tags/v1.2.3"),
        ("main", SHA, "ref 'main' is not a full git ref"),
        ("refs/heads/main", "xyz", "commit 'xyz' is not a hexadecimal git commit id"),
    ],
)
def test_bad_ref_or_sha(ref: str, sha: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        compute_tags(ref, sha, DEFAULT_TAG_RULES, [])


def test_invalid_result_is_refused_not_pushed() -> None:
    # metadata-action would output '-1.2.3' here and leave it to the push to fail.
    with pytest.raises(ConfigError, match=re.escape("computed tag '-1.2.3' is not a valid image tag")):
        compute_tags("refs/tags/v1.2.3", SHA, ["type=semver,pattern={{version}}"], ["prefix={{branch}}-"])
    with pytest.raises(ConfigError, match="is not a valid image tag"):
        compute_tags("refs/heads/main", SHA, [f"type=raw,value={'x' * 129}"], [])


def test_latest_is_not_repeated() -> None:
    # metadata-action prints 'latest' twice here; a tag list has each tag once.
    assert compute_tags("refs/heads/main", SHA, ["type=raw,value=latest"], ["latest=true"]) == ["latest"]


def test_short_sha_length() -> None:
    assert compute_tags("refs/heads/main", SHA, ["type=sha"], [], short_sha_length=12) == [f"sha-{SHA[:12]}"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def init_repo(repo: Path, branch: str = "main") -> str:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", branch)
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "config", "tag.gpgsign", "false")
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    return git(repo, "rev-parse", "HEAD")


def test_current_ref_and_sha(tmp_path: Path) -> None:
    head = init_repo(tmp_path / "repo", branch="feature/x")
    repo = tmp_path / "repo"
    assert current_ref(repo, {}) == "refs/heads/feature/x"
    assert current_sha(repo, {}) == head
    github = {"GITHUB_REF": "refs/tags/v1.2.3", "GITHUB_SHA": SHA}
    assert (current_ref(repo, github), current_sha(repo, github)) == ("refs/tags/v1.2.3", SHA)
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(ConfigError, match="no branch is checked out and GITHUB_REF is not set; pass --ref"):
        current_ref(repo, {})


def test_invoke_tags_cli(project: Project) -> None:
    env = {"GITHUB_REF": "", "GITHUB_SHA": ""}
    result = project.invoke("tags", "--ref", "refs/tags/v1.2.3", "--sha", SHA, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1.2.3", "1.2", "1", "sha-860c190", "latest"]

    result = project.invoke(
        "tags", "--ref", "refs/heads/main", "--sha", SHA, "--rule", "type=raw,value=v01", "--rule", "type=sha", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["v01", "sha-860c190"]

    project.edit_config(lambda data: data["rootfs_ci"].update(tags={"flavor": ["suffix=-x86_64,onlatest=true"]}))
    result = project.invoke("tags", "--ref", "refs/tags/v2.0.0", "--sha", SHA, env=env)
    assert result.stdout.splitlines() == [
        "2.0.0-x86_64",
        "2.0-x86_64",
        "2-x86_64",
        "sha-860c190-x86_64",
        "latest-x86_64",
    ]
    result = project.invoke("tags", "--ref", "refs/tags/v2.0.0", "--sha", SHA, "--flavor", "latest=false", env=env)
    assert result.stdout.splitlines() == ["2.0.0", "2.0", "2", "sha-860c190"]


def test_invoke_tags_defaults_to_the_checkout(project: Project) -> None:
    head = init_repo(project.path, branch="feature/y")
    result = project.invoke("tags", env={"GITHUB_REF": "", "GITHUB_SHA": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["feature-y", f"sha-{head[:7]}"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--ref", "refs/heads/main", "--rule", "type=semvr,pattern={{version}}"), "unknown type 'semvr'"),
        (("--ref", "main"), "ref 'main' is not a full git ref"),
    ],
)
def test_invoke_tags_bad_input(project: Project, args: tuple[str, ...], expected: str) -> None:
    result = project.invoke("tags", "--sha", SHA, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("rootfs-ci: error: ")
    assert expected in result.stderr
