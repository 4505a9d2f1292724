"""The service against bad and hostile requests: size limits, bad JSON, non-Unicode text,
CORS, security headers, JWT negatives beyond test_jwt_auth, and no secrets in the repo."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dermcoder.service.app import STATIC_DIR, create_app

REPO = Path(__file__).resolve().parents[2]
NOTE = "Shave biopsy of a 0.6 cm papule, left forearm. Path pending."
CDS_PATH = "/cds-services/dermcoder-discharge"
CDS_BODY = {"hook": "encounter-discharge", "hookInstance": "h-1", "context": {"patientId": "p"}}


@pytest.fixture
def small_client(engine, service_settings):
    """An app whose request bodies are capped at 2,000 bytes."""
    with TestClient(create_app(replace(service_settings, max_body_bytes=2000))) as client:
        yield client


# ------------------------------------------------------------------ size and shape of requests


def test_hardening_oversized_body_is_413_before_reading(small_client):
    response = small_client.post("/v1/suggest", json={"id": "big", "text": "biopsy " * 400})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body over 2,000 bytes (DERMCODER_MAX_BODY_BYTES)"}
    assert small_client.post("/v1/suggest", json={"id": "ok", "text": NOTE}).status_code == 200


def test_hardening_oversized_chunked_body_is_413(small_client):
    """No Content-Length (chunked upload): counted as it arrives."""

    def chunks():
        for _ in range(20):
            yield b"x" * 200

    response = small_client.post("/v1/suggest", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "DERMCODER_MAX_BODY_BYTES" in response.json()["detail"]


def test_hardening_body_limit_applies_to_every_route(small_client):
    big = [{"id": f"n{i}", "text": NOTE} for i in range(60)]
    assert small_client.post("/v1/batch", json=big).status_code == 413
    assert small_client.post("/v1/feedback", content=b"[" + b"0," * 2000 + b"0]").status_code == 413
    assert small_client.post(CDS_PATH, content=b" " * 3000).status_code == 413


def test_hardening_body_limit_setting_from_env(monkeypatch):
    from dermcoder.settings import Settings, settings_from_env

    assert Settings().max_body_bytes == 16 * 1024 * 1024
    monkeypatch.setenv("DERMCODER_MAX_BODY_BYTES", "12345")
    assert settings_from_env().max_body_bytes == 12345


@pytest.mark.parametrize("body, where", [
    (b'{"text": "Shave biopsy', "Unterminated string"),
    (b'{"text": "x",}', "Expecting"),
    (b"not json at all", "Expecting value"),
    (b"", ""),
    (b"\xff\xfe{}", ""),
])  # fmt: skip
def test_hardening_bad_json_is_422_with_a_message(client, body, where):
    response = client.post("/v1/suggest", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all(d["msg"] for d in detail)
    assert where in json.dumps(detail)
    assert "Traceback" not in response.text and "Shave" not in response.text


@pytest.mark.parametrize("body", [b"[]", b"42", b'"text"', b"null", b'{"text": 5}', b'{"text": ["a"]}', b'{"id": "", "text": "x"}'])
def test_hardening_wrong_shapes_are_422(client, body):
    response = client.post("/v1/suggest", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"], response.text


def test_hardening_unpaired_surrogate_refused_not_500(client):
    """Regression: in a batch, JSON "\\ud800" reached the tokenizer and the whole batch
    answered 500 (UnicodeEncodeError); now that note gets an error record, the others codes."""
    raw = b'{"id": "s", "text": "Shave biopsy \\ud800 left arm"}'
    response = client.post("/v1/suggest", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "left arm" not in response.text  # pydantic's JSON parser refuses it
    batch = client.post("/v1/batch", content=b'[{"id": "a", "text": "Shave biopsy \\udfff"}, {"id": "b", "text": "Punch biopsy right cheek."}]',
                        headers={"content-type": "application/json"})  # fmt: skip
    assert batch.status_code == 200
    first, second = batch.json()
    assert "unpaired surrogate (U+DFFF at character 13)" in first["error"] and first["id"] == "a"
    assert "error" not in second and second["cpt"]


# ------------------------------------------------------------------ CORS and security headers


def test_hardening_no_cors_by_default(client):
    simple = client.post("/v1/suggest", json={"text": NOTE}, headers={"Origin": "https://evil.example.org"})
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers
    preflight = client.options("/v1/suggest", headers={"Origin": "https://evil.example.org",
                                                       "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in preflight.headers


def test_hardening_cors_only_configured_origins(engine, service_settings):
    settings = replace(service_settings, cors_origins=("https://ehr.example.org",))
    with TestClient(create_app(settings)) as client:
        ok = client.post("/v1/suggest", json={"text": NOTE}, headers={"Origin": "https://ehr.example.org"})
        assert ok.headers["access-control-allow-origin"] == "https://ehr.example.org"
        assert "access-control-allow-credentials" not in ok.headers
        foreign = client.post("/v1/suggest", json={"text": NOTE}, headers={"Origin": "https://evil.example.org"})
        assert "access-control-allow-origin" not in foreign.headers
        preflight = client.options("/v1/suggest", headers={"Origin": "https://evil.example.org",
                                                           "Access-Control-Request-Method": "POST"})  # fmt: skip
        assert preflight.status_code == 400 and "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("raw, ok", [
    ("https://ehr.example.org, http://localhost:3000", ("https://ehr.example.org", "http://localhost:3000")),
    ("", ()), ("*", None), ("ehr.example.org", None), ("https://ehr.example.org/path", None),
])  # fmt: skip
def test_hardening_cors_setting(monkeypatch, raw, ok):
    from dermcoder.settings import settings_from_env

    monkeypatch.setenv("DERMCODER_CORS_ORIGINS", raw)
    if ok is None:
        with pytest.raises(SystemExit, match="DERMCODER_CORS_ORIGINS"):
            settings_from_env()
    else:
        assert settings_from_env().cors_origins == ok


def _check_security_headers(response, *, cacheable: bool = False) -> None:
    h = response.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert (h.get("cache-control") == "no-store") is not cacheable


def test_hardening_security_headers_everywhere(client, monkeypatch, engine):
    _check_security_headers(client.get("/"))
    _check_security_headers(client.get("/health"))
    _check_security_headers(client.post("/v1/suggest", json={"text": NOTE}))
    _check_security_headers(client.post("/v1/suggest", content=b"{", headers={"content-type": "application/json"}))
    _check_security_headers(client.get("/no/such/path"))
    _check_security_headers(client.get("/static/app.js"), cacheable=True)

    def boom(text, note_id="note"):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(engine, "suggest", boom)
    failed = client.post("/v1/suggest", json={"text": NOTE})
    assert failed.status_code == 500
    _check_security_headers(failed)


def test_hardening_security_headers_on_413(small_client):
    _check_security_headers(small_client.post("/v1/suggest", json={"text": "x" * 5000}))


def test_hardening_page_needs_no_inline_code():
    """The CSP has no 'unsafe-inline': the page must hold no inline script, style or handler."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html and not re.search(r"\sstyle\s*=", html), "inline style"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html), "resource from another origin"
    js = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    assert not re.search(r"\beval\(|new Function\(|setAttribute\(\s*[\"']style|\.innerHTML\s*=", js)


# ------------------------------------------------------------------ CDS Hooks JWT negatives


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _call(client, token: str):
    return client.post(CDS_PATH, json=CDS_BODY, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("claims, reason", [
    ({"nbf": int(time.time()) + 600}, "ImmatureSignatureError"),
    ({"iat": int(time.time()) + 600}, "ImmatureSignatureError"),
    ({"nbf": "tomorrow"}, "DecodeError"),
])  # fmt: skip
def test_hardening_jwt_not_yet_valid(cds_client, cds_token, claims, reason):
    response = _call(cds_client, cds_token(CDS_PATH, **claims))
    assert response.status_code == 401 and reason in response.json()["detail"], response.text
    assert response.headers["www-authenticate"] == "Bearer"


def test_hardening_jwt_within_leeway_passes(cds_client, cds_token):
    """Clocks drift: nbf/iat a few seconds ahead are inside the 30 s leeway (control case)."""
    now = int(time.time())
    assert _call(cds_client, cds_token(CDS_PATH, nbf=now + 5, iat=now + 5)).status_code == 412


@pytest.mark.parametrize("alg", ["RS384", "ES256"])
@pytest.mark.parametrize("change", [
    {"iss": "https://ehr.example.org", "sub": "admin"},
    {"exp": int(time.time()) + 200},
    {"tenant": "other-clinic"},
])  # fmt: skip
def test_hardening_jwt_tampered_payload(cds_client, cds_token, alg, change):
    """Payload altered after signing, signature kept: refused as a bad signature."""
    header, payload, signature = cds_token(CDS_PATH, alg=alg).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = _b64(json.dumps({**claims, **change}).encode())
    assert forged != payload
    response = _call(cds_client, f"{header}.{forged}.{signature}")
    assert response.status_code == 401 and response.json()["detail"] == "bad signature", response.text


def test_hardening_jwt_tampered_header(cds_client, cds_token):
    """kid switched to the other key after signing: the signature no longer verifies."""
    header, payload, signature = cds_token(CDS_PATH, alg="ES256").split(".")
    forged = _b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "ec-2"}).encode())
    response = _call(cds_client, f"{forged}.{payload}.{signature}")
    assert response.status_code == 401


def test_hardening_jwt_untampered_control(cds_client, cds_token):
    """The same token, untouched, authenticates: the tampering tests above prove something."""
    header, payload, signature = cds_token(CDS_PATH, alg="RS384").split(".")
    assert _call(cds_client, f"{header}.{payload}.{signature}").status_code == 412


# ------------------------------------------------------------------ no secrets in the repository

SECRET_PATTERNS = {
    "private key (PEM)": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "private JWK ('d' member)": re.compile(r'"d"\s*:\s*"[A-Za-z0-9_-]{20,}"'),
    "AWS access key id": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "PyPI token": re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{20,}"),
    "signed JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^/\s:@\"'{}$<>]{6,}@"),
}


def find_secrets(text: str) -> list[str]:
    """Names of the secret patterns found in a text."""
    return [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


def test_hardening_secret_scanner_finds_generated_secrets(ehr_keys, cds_token):
    """Positive control: keys and tokens made now, at test time, are found by the scanner."""
    from cryptography.hazmat.primitives import serialization

    pem = ehr_keys["rsa"].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()  # fmt: skip
    assert find_secrets(pem) == ["private key (PEM)"]
    import jwt

    private_jwk = jwt.algorithms.ECAlgorithm.to_jwk(ehr_keys["ec"], as_dict=True)
    assert "private JWK ('d' member)" in find_secrets(json.dumps(private_jwk))
    assert "signed JWT" in find_secrets(cds_token(CDS_PATH))
    password = uuid.uuid4().hex  # built here so that this file holds no such URL itself
    assert find_secrets(f"postgresql+psycopg://coder:{password}@db.example.org/dermcoder") == ["password in a URL"]
    assert find_secrets(json.dumps(ehr_keys["jwks"])) == []  # public keys are not secrets


def test_hardening_no_secrets_committed():
    """Every tracked file (test keys are generated at test time; none is committed)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    assert len(files) > 50, "git ls-files listed nothing: the scan would prove nothing"
    found = []
    for name in filter(None, files):
        path = REPO / name.decode()
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary (model artifact, screenshot)
        for secret in find_secrets(data.decode("utf-8", "replace")):
            found.append(f"{name.decode()}: {secret}")
    assert found == []
