"""CDS Hooks JWT checks: what the spec asks of the EHR's token, and the classic attacks."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from dermcoder.service.jwt_auth import ConfigError, load_issuers
from dermcoder.settings import Settings

PATH = "/cds-services/dermcoder-discharge"
BODY = {"hook": "encounter-discharge", "hookInstance": "h-1", "context": {"patientId": "p"}}  # no note: 412 once in


def _call(client, token: str | None, path: str = PATH):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(path, json=BODY, headers=headers)


def _unsigned(payload: dict, alg: str = "none") -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': alg, 'typ': 'JWT', 'kid': 'rsa-1'})}.{part(payload)}."


def _claims(**over) -> dict:
    now = int(time.time())
    return {"iss": "https://ehr.example.org", "aud": f"http://testserver{PATH}", "iat": now, "exp": now + 300,
            "jti": uuid.uuid4().hex, **over}  # fmt: skip


@pytest.mark.parametrize("alg", ["RS256", "RS384", "ES256", "ES384"])
def test_jwt_valid_token_passes(cds_client, cds_token, alg):
    # Past authentication the request fails only for its missing note.
    assert _call(cds_client, cds_token(PATH, alg=alg)).status_code == 412


@pytest.mark.parametrize("make, reason", [
    (lambda t: t(PATH, exp=int(time.time()) - 120), "expired"),
    (lambda t: t(PATH, aud="http://testserver/cds-services/other"), "aud"),
    (lambda t: t(PATH, aud="https://elsewhere.example.org/cds-services/dermcoder-discharge"), "aud"),
    (lambda t: t(PATH, iss="https://evil.example.org"), "issuer not trusted"),
    (lambda t: t(PATH, drop=("jti",)), "jti"),
    (lambda t: t(PATH, drop=("exp",)), "exp"),
    (lambda t: t(PATH, drop=("iat",)), "iat"),
    (lambda t: t(PATH, kid="unknown-kid"), "kid"),
    (lambda t: t(PATH, exp=int(time.time()) + 86400), "too long"),
    (lambda t: _unsigned(_claims()), "'none' refused"),
    (lambda t: _unsigned(_claims(), alg="None"), "refused"),
    (lambda t: "not.a.jwt", "malformed"),
])  # fmt: skip
def test_jwt_rejections(cds_client, cds_token, make, reason):
    response = _call(cds_client, make(cds_token))
    assert response.status_code == 401, response.text
    assert reason in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Traceback" not in response.text


def test_jwt_missing_header(cds_client):
    response = _call(cds_client, None)
    assert response.status_code == 401 and "missing Authorization" in response.json()["detail"]
    basic = cds_client.post(PATH, json=BODY, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


def test_jwt_hs256_with_the_public_key_as_secret(cds_client, ehr_keys):
    """The key-confusion attack: HMAC 'signed' with the server's own public key bytes."""
    public_pem = ehr_keys["rsa"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    import hashlib
    import hmac

    signing_input = header + b"." + payload
    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    token = (signing_input + b"." + signature).decode()
    response = _call(cds_client, token)
    assert response.status_code == 401 and "HS256" in response.json()["detail"]


def test_jwt_signed_by_another_key(cds_client):
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), stranger, algorithm="RS384", headers={"kid": "rsa-1"})
    response = _call(cds_client, token)
    assert response.status_code == 401 and "signature" in response.json()["detail"]


def test_jwt_replayed_jti(cds_client, cds_token):
    token = cds_token(PATH)
    assert _call(cds_client, token).status_code == 412
    replay = _call(cds_client, token)
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]


def test_jwt_aud_is_per_endpoint(cds_client, cds_token):
    feedback = PATH + "/feedback"
    body = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"}]}
    wrong = cds_client.post(feedback, json=body, headers={"Authorization": f"Bearer {cds_token(PATH)}"})
    assert wrong.status_code == 401
    right = cds_client.post(feedback, json=body, headers={"Authorization": f"Bearer {cds_token(feedback)}"})
    assert right.status_code == 404  # authenticated; the card is unknown


def test_jwt_configured_audience(engine, cds_settings, cds_token):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from dermcoder.service.app import create_app

    settings = replace(cds_settings, cds_audience="https://cds.example.org/")
    with TestClient(create_app(settings)) as client:
        assert _call(client, cds_token(PATH)).status_code == 401  # aud names the internal URL
        good = cds_token(PATH, aud="https://cds.example.org" + PATH)
        assert _call(client, good).status_code == 412


def test_jwt_no_issuers_configured(client, cds_token):
    response = _call(client, cds_token(PATH))
    assert response.status_code == 401 and "DERMCODER_CDS_ISSUERS" in response.json()["detail"]


def test_jwt_off_only_in_development(engine, tmp_path):
    from fastapi.testclient import TestClient

    from dermcoder.service.app import create_app

    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ConfigError, match="only with DERMCODER_ENV=development"):
        create_app(Settings(database_url=url, cds_jwt=False))
    with pytest.raises(ConfigError):
        create_app(Settings(database_url=url, cds_jwt=False, env="staging"))
    with TestClient(create_app(Settings(database_url=url, cds_jwt=False, env="development"))) as client:
        assert _call(client, None).status_code == 412  # no token needed in local development


def test_jwt_serve_refuses_to_start_with_jwt_off(cli):
    result = cli("serve", "--port", "1", env={"DERMCODER_CDS_JWT": "off", "DERMCODER_ENV": "production"})
    err = result.stderr.decode()
    assert result.returncode == 2 and err.startswith("error: DERMCODER_CDS_JWT=off is allowed only") and "Traceback" not in err


def test_jwt_issuer_config_forms(tmp_path, ehr_keys):
    jwks_file = tmp_path / "ehr.jwks.json"
    jwks_file.write_text(json.dumps(ehr_keys["jwks"]))
    assert set(load_issuers(json.dumps({"a": str(jwks_file), "b": ehr_keys["jwks"]}))) == {"a", "b"}
    mapping_file = tmp_path / "issuers.json"
    mapping_file.write_text(json.dumps({"a": str(jwks_file)}))
    assert len(load_issuers(str(mapping_file))["a"]) == 3
    for bad, message in [
        ("{not json", "not valid JSON"),
        (json.dumps({"a": str(tmp_path / "missing.json")}), "not found"),
        (json.dumps({"a": {"keys": []}}), "non-empty 'keys'"),
        (json.dumps({"a": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}), "not an RSA or EC"),
        (json.dumps({"a": {"keys": [{**ehr_keys["jwks"]["keys"][0], "d": "AAAA"}]}}), "private part"),
        (str(tmp_path / "nothing-here.json"), "neither a JSON object nor an existing file"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_issuers(bad)
