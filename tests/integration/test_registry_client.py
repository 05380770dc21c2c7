"""The OCI distribution client against real docker-registry processes (plain, TLS + Basic, token auth).

Faults come from a loopback proxy in front of the real registry; sleeps between retries are recorded
instead of slept, so nothing here depends on timing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from rootfs_ci.errors import ConfigError, RegistryError
from rootfs_ci.image.layout import read_layout
from rootfs_ci.registry.auth import Credentials, find_credentials, merge_scopes, parse_challenge
from rootfs_ci.registry.client import RegistryClient, open_client
from rootfs_ci.registry.local import LocalRegistry
from rootfs_ci.registry.push import push_image
from rootfs_ci.registry.referrers import ArtifactBlob
from rootfs_ci.registry.repository import Repository
from rootfs_ci.registry.target import check_tag, is_loopback, parse_target
from tests.fakeregistry import Answer, FakeServer, Seen, wait_until
from tests.faultproxy import FaultProxy
from tests.registry_fixtures import AuthRegistry, free_port, make_cert, write_tiny_image


def BytesBlob(data: bytes) -> ArtifactBlob:
    return ArtifactBlob("application/octet-stream", data)


def client(address: str, sleeps: list[float] | None = None, **options: object) -> RegistryClient:
    recorded = sleeps if sleeps is not None else []
    return RegistryClient(parse_target(address), sleep=recorded.append, backoff=0.25, **options)  # type: ignore[arg-type]


def blob_bytes(registry: LocalRegistry, repository: str, digest: str) -> bytes:
    response = requests.get(f"{registry.url}/v2/{repository}/blobs/{digest}", timeout=30)
    response.raise_for_status()
    return response.content


# -- targets, credentials, challenges (no registry needed) -------------------------------------


def test_targets_use_http_only_on_loopback() -> None:
    local = parse_target("127.0.0.1:5000")
    assert (local.scheme, local.host, local.namespace, local.loopback) == ("http", "127.0.0.1:5000", "", True)
    assert parse_target("localhost:5000/team").base_url == "http://localhost:5000"
    assert parse_target("127.0.0.1:5000/team").repository("web") == "team/web"
    ghcr = parse_target("ghcr.io/owner")
    assert (ghcr.base_url, ghcr.repository("apacheinit")) == ("https://ghcr.io", "owner/apacheinit")
    assert parse_target("https://127.0.0.1:5443").base_url == "https://127.0.0.1:5443"
    hub = parse_target("docker.io")
    assert (hub.base_url, hub.repository("web")) == ("https://registry-1.docker.io", "library/web")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://ghcr.io/owner", "plain HTTP is only allowed on loopback"),
        ("ghcr.io/Owner", "registries refuse uppercase"),
        ("ftp://127.0.0.1", "is not http or https"),
        ("/nohost", "does not start with a host"),
    ],
)
def test_bad_targets_are_refused_in_one_line(target: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_target(target)
    assert "\n" not in str(caught.value)


def test_credentials_from_environment_never_show_the_secret(tmp_path: Path) -> None:
    secret = "s3cr3t-" + secrets.token_hex(8)
    environ = {"ROOTFS_CI_REGISTRY_USER": "me", "ROOTFS_CI_REGISTRY_PASSWORD": secret, "DOCKER_CONFIG": str(tmp_path)}
    found = find_credentials("ghcr.io", environ).credentials
    assert found is not None
    assert found.basic() == "Basic " + base64.b64encode(f"me:{secret}".encode()).decode()
    for text in (repr(found), str(found), repr(find_credentials("ghcr.io", environ))):
        assert secret not in text
        assert "ROOTFS_CI_REGISTRY_USER/ROOTFS_CI_REGISTRY_PASSWORD" in text or "Credentials(" in text
    with pytest.raises(ConfigError, match="ROOTFS_CI_REGISTRY_PASSWORD is not"):
        find_credentials("ghcr.io", {"ROOTFS_CI_REGISTRY_USER": "me", "DOCKER_CONFIG": str(tmp_path)})


def test_github_token_is_used_for_ghcr_only(tmp_path: Path) -> None:
    environ = {"GITHUB_ACTOR": "octo", "GITHUB_TOKEN": "ghs_x", "DOCKER_CONFIG": str(tmp_path)}
    found = find_credentials("ghcr.io", environ).credentials
    assert found is not None
    assert (found.username, found.source) == ("octo", "GITHUB_ACTOR/GITHUB_TOKEN")
    assert find_credentials("127.0.0.1:5000", environ).credentials is None


def test_docker_config_auths_and_credential_helpers(tmp_path: Path) -> None:
    config = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hubuser:hubpass").decode()},
            "127.0.0.1:5000": {"username": "u", "password": "p"},
            "quay.io": {},
        },
        "credHelpers": {"quay.io": "ecr-login"},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    environ = {"DOCKER_CONFIG": str(tmp_path)}
    hub = find_credentials("docker.io", environ).credentials
    assert hub is not None
    assert (hub.username, hub.password) == ("hubuser", "hubpass")
    local = find_credentials("127.0.0.1:5000", environ).credentials
    assert local is not None
    assert local.username == "u"
    helper_only = find_credentials("quay.io", environ)
    assert helper_only.credentials is None
    assert "credential helper 'ecr-login'" in helper_only.note
    assert helper_only.note.endswith("set ROOTFS_CI_REGISTRY_USER and ROOTFS_CI_REGISTRY_PASSWORD instead")
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"ghcr.io": {"auth": "bm90LWJhc2U2NA"}}}))
    with pytest.raises(ConfigError, match=r"auths.ghcr.io.auth is not base64 of 'user:password'"):
        find_credentials("ghcr.io", environ)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        find_credentials("ghcr.io", environ)


def test_challenges_and_scopes_parse() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/x:pull,push repository:o/y:pull"'
    )
    assert challenge is not None
    assert (challenge.scheme, challenge.realm, challenge.service) == ("bearer", "https://ghcr.io/token", "ghcr.io")
    assert challenge.scopes == ("repository:o/x:pull,push", "repository:o/y:pull")
    basic = parse_challenge('Basic realm="registry"')
    assert basic is not None
    assert (basic.scheme, basic.realm) == ("basic", "registry")
    assert merge_scopes(("repository:a:push",), ("repository:a:pull", "repository:b:pull")) == (
        "repository:a:pull,push",
        "repository:b:pull",
    )


# -- the API against a real registry ----------------------------------------------------------


def test_monolithic_and_chunked_uploads_store_the_exact_bytes(
    registry_server: LocalRegistry, fault_proxy: FaultProxy, repo_name: str
) -> None:
    small, large = BytesBlob(secrets.token_bytes(1000)), BytesBlob(secrets.token_bytes(200 * 1024))
    with client(fault_proxy.address, chunk_size=64 * 1024) as registry:
        repository = Repository(registry, repo_name, push=True)
        assert not repository.blob_exists(small.digest)
        repository.upload_blob(small)
        assert fault_proxy.count("PATCH") == 0
        repository.upload_blob(large)
        assert fault_proxy.count("PATCH") == 4  # 64 + 64 + 64 + 8 KiB
        assert repository.blob_exists(small.digest)
        assert repository.blob_exists(large.digest)
    assert blob_bytes(registry_server, repo_name, small.digest) == small.data
    assert blob_bytes(registry_server, repo_name, large.digest) == large.data


def test_cross_repository_mount(registry_server: LocalRegistry, fault_proxy: FaultProxy, repo_name: str) -> None:
    blob = BytesBlob(secrets.token_bytes(5000))
    with client(fault_proxy.address) as registry:
        Repository(registry, repo_name, push=True).upload_blob(blob)
        other = Repository(registry, repo_name + "-copy", push=True)
        uploads_before = fault_proxy.count("PUT", "/blobs/uploads/")
        assert other.mount_blob(blob.digest, repo_name) is True
        assert fault_proxy.count("PUT", "/blobs/uploads/") == uploads_before  # no bytes sent
        assert other.blob_exists(blob.digest)
        missing = BytesBlob(b"never uploaded")
        assert other.mount_blob(missing.digest, repo_name) is False
        assert fault_proxy.count("DELETE", "/blobs/uploads/") == 1  # the fallback session is not left open


def test_manifest_by_digest_and_tag_and_paginated_tags(tmp_path: Path, fault_proxy: FaultProxy, repo_name: str) -> None:
    written = write_tiny_image(tmp_path, b"hello")
    image = read_layout(written.archive)
    with client(fault_proxy.address) as registry:
        repository = Repository(registry, repo_name, push=True)
        assert repository.tags() == []
        result = push_image(repository, image, ["1.0.0", "1.0", "1", "latest", "main"])
        assert result.digest == written.manifest.digest
        assert set(result.uploaded) == {written.config.digest, written.layer.digest}
        for reference in (written.manifest.digest, "1.0.0", "latest"):
            info = repository.head_manifest(reference)
            assert info is not None
            assert (info.digest, info.media_type) == (written.manifest.digest, image.media_type)
        body, info = repository.get_manifest("main")
        assert body == image.manifest
        assert info.digest == written.manifest.digest
        assert repository.head_manifest("nope") is None
        lists_before = fault_proxy.count("GET", "/tags/list")
        fault_proxy.paginate_tags = True
        assert repository.tags(page_size=2) == ["1", "1.0", "1.0.0", "latest", "main"]
        assert fault_proxy.count("GET", "/tags/list") - lists_before == 3  # 2 + 2 + 1, via Link: rel="next"


# -- retries and faults -----------------------------------------------------------------------


def test_one_500_then_success_after_a_retry(tmp_path: Path, fault_proxy: FaultProxy, repo_name: str) -> None:
    written = write_tiny_image(tmp_path, b"retry")
    fault_proxy.inject("500", method="PUT", path_contains="/manifests/")
    sleeps: list[float] = []
    with client(fault_proxy.address, sleeps) as registry:
        repository = Repository(registry, repo_name, push=True)
        push_image(repository, read_layout(written.archive), ["1.0.0"])
        assert repository.head_manifest("1.0.0") is not None
    assert fault_proxy.injected == [("500", "PUT", f"/v2/{repo_name}/manifests/{written.manifest.digest}")]
    assert fault_proxy.count("PUT", f"/manifests/{written.manifest.digest}") == 2
    assert sleeps == [0.25]


def test_429_honours_retry_after(fault_proxy: FaultProxy, repo_name: str) -> None:
    fault_proxy.inject("429", retry_after=3)
    sleeps: list[float] = []
    with client(fault_proxy.address, sleeps) as registry:
        assert Repository(registry, repo_name).tags() == []
    assert sleeps == [3.0]


def test_dropped_connections_and_truncated_bodies_are_retried(
    tmp_path: Path, fault_proxy: FaultProxy, repo_name: str
) -> None:
    written = write_tiny_image(tmp_path, b"drops")
    sleeps: list[float] = []
    with client(fault_proxy.address, sleeps) as registry:
        repository = Repository(registry, repo_name, push=True)
        fault_proxy.inject("drop", count=2, method="HEAD")
        push_image(repository, read_layout(written.archive), ["v1"])
        fault_proxy.inject("truncate", method="GET", path_contains="/manifests/")
        body, info = repository.get_manifest("v1")
    assert hashlib.sha256(body).hexdigest() == written.manifest.digest.removeprefix("sha256:")
    assert info.digest == written.manifest.digest
    assert [kind for kind, _, _ in fault_proxy.injected] == ["drop", "drop", "truncate"]
    assert sleeps == [0.25, 0.5, 0.25]


def test_a_connection_lost_after_a_chunk_restarts_the_upload(
    registry_server: LocalRegistry, fault_proxy: FaultProxy, repo_name: str
) -> None:
    blob = BytesBlob(secrets.token_bytes(150 * 1024))
    # The registry stores the first chunk, but its answer is lost: the resent chunk no longer fits.
    fault_proxy.inject("drop_after", method="PATCH")
    with client(fault_proxy.address, chunk_size=64 * 1024) as registry:
        Repository(registry, repo_name, push=True).upload_blob(blob)
    assert fault_proxy.count("POST", "/blobs/uploads/") == 2
    assert blob_bytes(registry_server, repo_name, blob.digest) == blob.data


def test_persistent_errors_stop_after_bounded_attempts(fault_proxy: FaultProxy, repo_name: str) -> None:
    fault_proxy.inject("500", count=10)
    sleeps: list[float] = []
    with client(fault_proxy.address, sleeps, attempts=3) as registry, pytest.raises(RegistryError) as caught:
        Repository(registry, repo_name).tags()
    assert str(caught.value) == (
        f"registry {fault_proxy.address} answered 500 Internal Server Error to GET /v2/{repo_name}/tags/list "
        "3 times (UNKNOWN: injected by the fault proxy); try again later"
    )
    assert sleeps == [0.25, 0.5]


def test_registry_down_is_one_clear_line() -> None:
    port = free_port()  # nothing listens there
    with client(f"127.0.0.1:{port}", attempts=2) as registry, pytest.raises(RegistryError) as caught:
        registry.ping()
    assert str(caught.value) == (
        f"cannot reach registry 127.0.0.1:{port}: connection refused; "
        "start it with 'invoke registry.up' or fix rootfs_ci.registry.target"
    )


# -- Basic auth over TLS ----------------------------------------------------------------------


def test_basic_auth_over_tls(basic_registry: AuthRegistry, tmp_path: Path, repo_name: str) -> None:
    written = write_tiny_image(tmp_path, b"basic")
    credentials = Credentials(basic_registry.user, basic_registry.password, "test")
    target = parse_target(basic_registry.target)
    with RegistryClient(target, credentials, ca_file=str(basic_registry.ca_file)) as registry:
        repository = Repository(registry, repo_name, push=True)
        push_image(repository, read_layout(written.archive), ["1.0.0"])
        assert repository.tags() == ["1.0.0"]


def test_credentials_from_docker_config_reach_the_registry(
    basic_registry: AuthRegistry, tmp_path: Path, repo_name: str
) -> None:
    auth = base64.b64encode(f"{basic_registry.user}:{basic_registry.password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {basic_registry.registry.address: {"auth": auth}}}))
    target = parse_target(basic_registry.target)
    with open_client(target, {"DOCKER_CONFIG": str(tmp_path)}, ca_file=str(basic_registry.ca_file)) as registry:
        registry.ping()
        assert Repository(registry, repo_name).tags() == []


def test_wrong_or_missing_credentials_are_clear_and_never_leak(
    basic_registry: AuthRegistry, caplog: pytest.LogCaptureFixture, repo_name: str
) -> None:
    caplog.set_level(logging.DEBUG)
    target = parse_target(basic_registry.target)
    wrong = "wrong-" + secrets.token_urlsafe(12)
    credentials = Credentials(basic_registry.user, wrong, "ROOTFS_CI_REGISTRY_USER/ROOTFS_CI_REGISTRY_PASSWORD")
    with RegistryClient(target, credentials, ca_file=str(basic_registry.ca_file)) as registry:
        with pytest.raises(RegistryError) as caught:
            Repository(registry, repo_name, push=True).tags()
        texts = [
            str(caught.value),
            repr(caught.value),
            repr(registry),
            "".join(traceback.format_exception(caught.value)),
        ]
    assert str(caught.value) == (
        f"{basic_registry.registry.address} rejected the credentials from "
        f"ROOTFS_CI_REGISTRY_USER/ROOTFS_CI_REGISTRY_PASSWORD (401 for tags of {repo_name}); "
        "check the user name and password or token"
    )
    with (
        RegistryClient(target, None, ca_file=str(basic_registry.ca_file)) as registry,
        pytest.raises(RegistryError) as anonymous,
    ):
        registry.ping()
    assert str(anonymous.value).startswith(f"{basic_registry.registry.address} needs credentials for the API root")
    assert "ROOTFS_CI_REGISTRY_USER and ROOTFS_CI_REGISTRY_PASSWORD" in str(anonymous.value)
    good = Credentials(basic_registry.user, basic_registry.password, "test")
    with RegistryClient(target, good, ca_file=str(basic_registry.ca_file)) as registry:
        registry.ping()
        texts.append(repr(registry))
    texts += [record.getMessage() for record in caplog.records]
    texts.append(basic_registry.registry.log_file.read_text())
    for secret in (wrong, basic_registry.password):
        assert not any(secret in text for text in texts)
        encoded = base64.b64encode(f"{basic_registry.user}:{secret}".encode()).decode()
        assert not any(encoded in text for text in texts)


def test_tls_without_the_ca_is_a_clear_error(basic_registry: AuthRegistry) -> None:
    with RegistryClient(parse_target(basic_registry.target)) as registry, pytest.raises(RegistryError) as caught:
        registry.ping()
    assert str(caught.value).startswith(f"TLS check failed for registry {basic_registry.registry.address}")
    assert "ROOTFS_CI_REGISTRY_CA_FILE" in str(caught.value)


# -- Bearer tokens (the GHCR / Docker Hub flow) -----------------------------------------------


def test_bearer_flow_fetches_one_token_per_scope_and_caches_it(
    token_registry: AuthRegistry, tmp_path: Path, repo_name: str
) -> None:
    server = token_registry.token_server
    assert server is not None
    written = write_tiny_image(tmp_path, b"bearer")
    credentials = Credentials(token_registry.user, token_registry.password, "test")
    before = len(server.requests)
    with RegistryClient(parse_target(token_registry.target), credentials) as registry:
        repository = Repository(registry, repo_name, push=True)
        push_image(repository, read_layout(written.archive), ["1.0.0", "latest"])
        assert sorted(repository.tags()) == ["1.0.0", "latest"]
    # About ten registry requests, one token: for this repository's pull and push scope, sent as the user.
    assert server.requests[before:] == [(token_registry.user, [f"repository:{repo_name}:pull,push"])]
    with RegistryClient(parse_target(token_registry.target)) as anonymous:
        info = Repository(anonymous, repo_name).head_manifest("1.0.0")
    assert info is not None
    assert info.digest == written.manifest.digest
    assert server.requests[-1] == (None, [f"repository:{repo_name}:pull"])


def test_bearer_refusals_are_clear(token_registry: AuthRegistry, tmp_path: Path, repo_name: str) -> None:
    written = write_tiny_image(tmp_path, b"refused")
    target = parse_target(token_registry.target)
    with RegistryClient(target) as anonymous, pytest.raises(RegistryError) as caught:
        push_image(Repository(anonymous, repo_name, push=True), read_layout(written.archive), ["1.0.0"])
    assert str(caught.value).startswith(f"{target.host} refused uploading blob ")
    assert "the anonymous access lacks the rights for it" in str(caught.value)
    wrong = "nope-" + secrets.token_urlsafe(10)
    credentials = Credentials(token_registry.user, wrong, "GITHUB_ACTOR/GITHUB_TOKEN")
    with RegistryClient(target, credentials) as registry, pytest.raises(RegistryError) as rejected:
        Repository(registry, repo_name, push=True).tags()
    assert str(rejected.value) == (
        f"{target.host} rejected the credentials from GITHUB_ACTOR/GITHUB_TOKEN "
        f"(401 for a token for repository:{repo_name}:pull,push); check the user name and password or token"
    )
    assert wrong not in repr(rejected.value)
    with RegistryClient(target) as anonymous:
        assert Repository(anonymous, repo_name).tags() == []  # the refused push left nothing


def test_a_credential_helper_is_named_when_credentials_are_needed(basic_registry: AuthRegistry, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {}, "credsStore": "desktop"}))
    target = parse_target(basic_registry.target)
    with (
        open_client(target, {"DOCKER_CONFIG": str(tmp_path)}, ca_file=str(basic_registry.ca_file)) as registry,
        pytest.raises(RegistryError) as caught,
    ):
        registry.ping()
    assert str(caught.value) == (
        f"{target.host} needs credentials for the API root /v2/: {tmp_path / 'config.json'} names the credential "
        f"helper 'desktop' for {target.host}, which rootfs-ci does not run; set ROOTFS_CI_REGISTRY_USER and "
        "ROOTFS_CI_REGISTRY_PASSWORD instead"
    )


# -- hostile registries (issue 20): a scriptable server on loopback ---------------------------

CREDENTIALS = Credentials("ci-user", "pw-" + secrets.token_hex(8), "test")
TOKEN = "tok-" + secrets.token_hex(8)


def test_loopback_means_127_8_ipv6_loopback_and_localhost_only() -> None:
    for host in ("localhost", "LOCALHOST:5000", "127.0.0.1:5000", "127.200.3.4", "[::1]:5000"):
        assert is_loopback(host), host
    for host in ("registry.localhost:5000", "localhost.example.com", "127.0.0.1.nip.io", "10.0.0.1", "[::2]:5000"):
        assert not is_loopback(host), host
    assert parse_target("registry.localhost:5000").scheme == "https"
    with pytest.raises(ConfigError, match="plain HTTP is only allowed on loopback"):
        parse_target("http://registry.localhost:5000")


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (parse_target, "127.0.0.1:5601\n/ns"),
        (parse_target, "127.0.0.1:5601/ns\n/x"),
        (check_tag, "1.0.0\n"),
        (parse_target("127.0.0.1:5000").repository, "web\n"),
    ],
)
def test_a_trailing_newline_is_refused_in_one_line(check: Callable[[str], object], value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check(value)
    assert "\n" not in str(caught.value)


def _auth_answer(kind: str, location: str = "") -> Answer:
    """A registry wanting Basic or Bearer (its token realm: /token on itself) that hands out ``location``."""

    def answer(fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        if seen.path.startswith("/token"):
            if seen.headers.get("Authorization") == CREDENTIALS.basic():
                fake.reply_json(handler, 200, {"token": TOKEN})
            else:
                fake.reply_json(handler, 401, {"errors": [{"code": "UNAUTHORIZED"}]})
            return
        wanted = CREDENTIALS.basic() if kind == "basic" else f"Bearer {TOKEN}"
        if seen.headers.get("Authorization") != wanted:
            realm = 'Basic realm="fake"' if kind == "basic" else f'Bearer realm="{fake.url}/token",service="fake"'
            fake.reply_json(handler, 401, {"errors": [{"code": "UNAUTHORIZED"}]}, **{"WWW-Authenticate": realm})
        elif seen.method == "POST":
            fake.reply(handler, 202, headers={"Location": location.format(address=fake.address)})
        elif seen.method == "PUT":
            fake.reply(handler, 201)
        else:
            fake.reply(handler, 404)

    return answer


@pytest.mark.parametrize("kind", ["basic", "bearer"])
def test_credentials_never_follow_an_upload_location_from_https_to_http(tmp_path: Path, kind: str) -> None:
    cert, key = make_cert(tmp_path / "tls", "fake")
    written = write_tiny_image(tmp_path / "image", b"downgrade")
    answer = _auth_answer(kind, "http://{address}/v2/fake/blobs/uploads/1")
    with (
        FakeServer(answer, tls=(cert, key)) as fake,
        RegistryClient(parse_target(fake.url), CREDENTIALS, ca_file=str(cert), attempts=1) as registry,
        pytest.raises(RegistryError) as caught,
    ):
        push_image(Repository(registry, "fake", push=True), read_layout(written.archive), ["1.0.0"])
    assert str(caught.value) == (
        f"registry {fake.address} sent PUT to plain HTTP (http://{fake.address}/v2/fake/blobs/uploads/1) from "
        "HTTPS; refused: fix the URL the registry (or its TLS proxy, e.g. X-Forwarded-Proto) puts in Location headers"
    )
    assert [seen for seen in fake.seen if seen.scheme == "http"] == []  # nothing went out in clear text
    assert not any("/manifests/" in seen.path and seen.method == "PUT" for seen in fake.seen)  # no tag


def test_a_redirect_from_https_to_http_is_not_followed(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path / "tls", "fake")

    def answer(fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        fake.reply(handler, 307, headers={"Location": f"http://{fake.address}/elsewhere"})

    with (
        FakeServer(answer, tls=(cert, key)) as fake,
        RegistryClient(parse_target(fake.url), ca_file=str(cert)) as registry,
        pytest.raises(RegistryError, match=r"sent GET to plain HTTP \(http://127\.0\.0\.1:\d+/elsewhere\)"),
    ):
        Repository(registry, "fake").get_manifest("1.0.0")
    assert [seen.scheme for seen in fake.seen] == ["https"]


@pytest.mark.parametrize("where", ["https registry, http realm", "http registry, *.localhost realm"])
def test_credentials_go_to_a_plain_http_realm_only_from_a_plain_http_loopback_registry(
    tmp_path: Path, where: str
) -> None:
    cert, key = make_cert(tmp_path / "tls", "fake")
    tls = (cert, key) if where.startswith("https") else None

    def answer(fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        host = fake.address if tls else fake.address.replace("127.0.0.1", "registry.localhost")
        challenge = f'Bearer realm="http://{host}/token",service="fake"'
        fake.reply_json(handler, 401, {"errors": [{"code": "UNAUTHORIZED"}]}, **{"WWW-Authenticate": challenge})

    with (
        FakeServer(answer, tls=tls) as fake,
        RegistryClient(parse_target(fake.url), CREDENTIALS, ca_file=str(cert)) as registry,
        pytest.raises(RegistryError, match=r"names the token service http://\S+ over plain HTTP; refused"),
    ):
        registry.ping()
    assert [seen.path for seen in fake.seen] == ["/v2/"]  # the token service was never asked


def _stream_answer(what: str) -> Answer:
    def answer(fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        if what == "token response" and not seen.path.startswith("/token"):
            challenge = f'Bearer realm="{fake.url}/token",service="fake"'
            fake.reply_json(handler, 401, {"errors": []}, **{"WWW-Authenticate": challenge})
            return
        fake.stream(handler, 256 << 20, declare=what == "declared manifest", status=500 if what == "error" else 200)

    return answer


@pytest.mark.parametrize("what", ["declared manifest", "undeclared manifest", "error", "token response"])
def test_an_oversized_body_is_refused_after_4_mib(what: str) -> None:
    with FakeServer(_stream_answer(what)) as fake, client(fake.address, attempts=2) as registry:
        with pytest.raises(RegistryError) as caught:
            Repository(registry, "fake").get_manifest("1.0.0")
        wait_until(lambda: fake.stopped_streams > 0)
    assert "sent more than 4 MiB in answer to GET " in str(caught.value)
    assert str(caught.value).endswith("; refused (a manifest, tag list, token or error is far smaller)")
    assert fake.sent < 64 << 20  # the client stopped reading; the server could not push the rest
    assert len(fake.seen) == (2 if what == "token response" else 1)  # not retried


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_dripping_server_is_cut_off_at_the_deadline(where: str) -> None:
    def answer(fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        fake.drip(handler, every=0.2, count=30, in_headers=where == "headers")

    with FakeServer(answer) as fake, client(fake.address, timeout=5, deadline=1.0, attempts=2) as registry:
        with pytest.raises(RegistryError) as caught:
            Repository(registry, "fake").get_manifest("1.0.0")
        wait_until(lambda: fake.stopped_streams > 0)
    assert str(caught.value) == (
        f"registry {fake.address} did not finish answering GET /v2/fake/manifests/1.0.0 within 1 s "
        "(the deadline per request); refused: check the registry and the network"
    )
    assert fake.sent < 20  # cut off after about 1 s of 30 drips 0.2 s apart
    assert len(fake.seen) == 1


def test_a_digest_header_that_names_other_bytes_is_refused() -> None:
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    claimed = "sha256:" + hashlib.sha256(b"the manifest that was smoke-tested").hexdigest()

    def answer(fake: FakeServer, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        fake.reply(handler, 200, body, {"Docker-Content-Digest": claimed, "Content-Type": "x"})

    with FakeServer(answer) as fake, client(fake.address) as registry, pytest.raises(RegistryError) as caught:
        Repository(registry, "fake").get_manifest("1.0.0")
    computed = "sha256:" + hashlib.sha256(body).hexdigest()
    assert str(caught.value) == (
        f"{fake.address} sent manifest bytes for fake:1.0.0 that hash to {computed}, not its Docker-Content-Digest "
        f"{claimed}; the registry or something between is altering content"
    )
