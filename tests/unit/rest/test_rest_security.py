"""No anonymous access, read-only tokens, hashed storage, size limits, TLS; every refusal is a JSON error."""

from __future__ import annotations

import json
import os
import re
import ssl
import stat
import subprocess
import sys
import time

import httpx
import pytest

from paracluster.rest.app import create_app
from paracluster.rest.auth import TokenStore

from conftest import TestClient

BODY = {"clusterName": "alpha", "clusterConfiguration": "x"}


def test_requests_without_a_valid_token_are_401_json(provider, tokens):
    tokens.create()
    client = TestClient(create_app(tokens))
    for headers in ({}, {"Authorization": "Bearer pcl_wrong"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": "Bearer "}):
        for method, path in (("GET", "/v3/clusters"), ("POST", "/v3/clusters"), ("GET", "/nowhere"),
                             ("GET", "/paracluster/v1/clusters/alpha/slurm")):
            answer = client.request(method, path, headers=headers)
            assert answer.status_code == 401, (headers, path)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "paracluster api token create" in answer.json()["message"]
    assert provider.calls == []


def test_the_dashboard_files_need_no_token_and_hold_no_data(tokens):
    client = TestClient(create_app(tokens))
    page = client.get("/ui/")
    assert page.status_code == 200 and "<title>ParaCluster</title>" in page.text
    assert client.get("/ui/app.js").status_code == 200
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_a_read_only_token_reads_and_is_refused_every_change(client, provider, tokens):
    client.post("/v3/clusters", json=BODY)
    reader = {"Authorization": f"Bearer {tokens.create(name='viewer', read_only=True)['token']}"}
    assert client.get("/v3/clusters", headers=reader).status_code == 200
    assert client.get("/paracluster/v1/token", headers=reader).json()["readOnly"] is True
    before = list(provider.calls)
    for method, path in (("POST", "/v3/clusters"), ("DELETE", "/v3/clusters/alpha"),
                         ("PATCH", "/v3/clusters/alpha/computefleet"), ("PUT", "/v3/clusters/alpha")):
        answer = client.request(method, path, headers=reader, json={"status": "STOP_REQUESTED"})
        assert answer.status_code == 403, path
        assert "may only read" in answer.json()["message"]
    assert provider.calls == before


def test_tokens_are_stored_hashed_0600_and_a_revoked_one_stops_at_once(client, tokens):
    made = tokens.create(name="ci")
    headers = {"Authorization": f"Bearer {made['token']}"}
    assert client.get("/v3/clusters", headers=headers).status_code == 200
    text = tokens.path.read_text()
    assert made["token"] not in text and made["id"] in text
    assert stat.S_IMODE(os.stat(tokens.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tokens.directory).st_mode) == 0o700
    assert [t["name"] for t in tokens.list()] == ["test", "ci"]
    assert all("token" not in t for t in tokens.list())
    tokens.revoke(made["id"])
    assert client.get("/v3/clusters", headers=headers).status_code == 401


def test_bodies_over_the_limit_are_413_whether_announced_or_streamed(provider, tokens):
    token = tokens.create()["token"]
    client = TestClient(create_app(tokens, max_body_bytes=1000),
                        headers={"Authorization": f"Bearer {token}"})
    big = json.dumps({"clusterName": "alpha", "clusterConfiguration": "x" * 2000})
    announced = client.post("/v3/clusters", content=big, headers={"Content-Type": "application/json"})
    assert announced.status_code == 413 and "at most 1000" in announced.json()["message"]

    def chunks():
        for _ in range(10):
            yield b"x" * 200

    streamed = client.post("/v3/clusters", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and "at most 1000" in streamed.json()["message"]
    assert provider.calls == []


def test_api_answers_are_not_cached_and_carry_security_headers(client):
    answer = client.get("/v3/clusters")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


def serve(tmp_path, *args):
    """`paracluster api serve --port 0` in a process of its own; its URL from the line it prints."""
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "paracluster", "api", "serve", "--port", "0", *args],
                            stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stderr.readline()
    found = re.search(r"on (https?://127\.0\.0\.1:\d+)/v3", line)
    assert found, line + proc.stderr.read() if proc.poll() is not None else line
    return proc, found.group(1)


def test_tls_when_a_certificate_is_given(tmp_path):
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(cert)
    certificate.private_key_pem.write_to_path(key)
    authority.cert_pem.write_to_path(ca)
    token = TokenStore(tmp_path / "state").create()["token"]
    proc, url = serve(tmp_path, "--certfile", str(cert), "--keyfile", str(key))
    try:
        assert url.startswith("https://")
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"{url}/paracluster/v1/token", verify=ssl.create_default_context(cafile=ca),
                                   headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["readOnly"] is False
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.replace("https", "http") + "/v3/clusters")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("args, fragment", [
    (["--certfile", "/nonexistent.pem"], "--certfile and --keyfile go together"),
    (["--certfile", "/nonexistent.pem", "--keyfile", "/nonexistent.key"], "failed to load --certfile"),
    (["--port", "70000"], "--port 70000 is out of range"),
    (["--host", "192.0.2.1"], "failed to listen on 192.0.2.1"),
])
def test_serve_refuses_bad_settings_in_one_sentence(tmp_path, args, fragment):
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(tmp_path / "state"))
    result = subprocess.run([sys.executable, "-m", "paracluster", "api", "serve", *args], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert fragment in json.loads(result.stdout)["message"]
    assert "Traceback" not in result.stdout + result.stderr


def test_token_commands(tmp_path):
    env = dict(os.environ, PARACLUSTER_STATE_DIR=str(tmp_path / "state"))

    def run(*args):
        result = subprocess.run([sys.executable, "-m", "paracluster", "api", "token", *args], capture_output=True,
                                text=True, env=env, timeout=60)
        return result.returncode, json.loads(result.stdout)

    code, made = run("create", "--read-only", "--name", "dashboard")
    assert code == 0 and made["token"].startswith("pcl_") and made["readOnly"] is True
    code, listed = run("list")
    assert listed == {"tokens": [{key: made[key] for key in ("id", "name", "readOnly", "createdTime")}]}
    assert TokenStore(tmp_path / "state").check(made["token"]).id == made["id"]
    assert run("revoke", made["id"]) == (0, {"message": f"Revoked API token {made['id']}."})
    code, missing = run("revoke", made["id"])
    assert code == 1 and "token list" in missing["message"]


def test_the_listening_socket_says_it_is_tcp_so_answers_are_not_held_by_nagle():
    # asyncio disables Nagle's algorithm only on sockets whose protocol is IPPROTO_TCP; without it every answer
    # (written as head then body) waited 40 ms for the client's delayed ACK.
    import socket

    from paracluster.rest.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_requests_beyond_the_concurrency_limit_are_503_json(provider, tokens, monkeypatch):
    import threading

    token = tokens.create()["token"]
    client = TestClient(create_app(tokens, max_active=1), headers={"Authorization": f"Bearer {token}"})
    inside, release = threading.Event(), threading.Event()

    def slow(region):
        inside.set()
        release.wait(10)
        return []

    monkeypatch.setattr(provider, "list_clusters", slow)
    first = threading.Thread(target=lambda: client.get("/v3/clusters"))
    first.start()
    assert inside.wait(10)
    busy = client.get("/paracluster/v1/token")
    release.set()
    first.join(10)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "retry in a moment" in busy.json()["message"]
    assert client.get("/paracluster/v1/token").status_code == 200
