"""Shared fixtures. Expensive objects are built once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False, help="run slow tests")


# Hypothesis budgets: the default run stays within a couple of minutes; --slow is the long
# fuzzing campaign. deadline=None: one example may be a 1 MB note (timings live in bench/).
FUZZ_PROFILES = {"dermcoder": 500, "dermcoder-slow": 10_000}


def pytest_configure(config):
    from hypothesis import HealthCheck, settings

    for name, examples in FUZZ_PROFILES.items():
        settings.register_profile(name, max_examples=examples, deadline=None, print_blob=True,
                                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    settings.load_profile("dermcoder-slow" if config.getoption("--slow") else "dermcoder")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow test: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tables():
    from dermcoder.coding.tables import load_tables

    return load_tables()


@pytest.fixture(scope="session")
def tables_dir() -> Path:
    return REPO / "coding" / "tables"


def run_cli(*args: str, stdin: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `dermcoder` command in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dermcoder", *args], input=stdin, capture_output=True, env=full_env, timeout=300
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def nlp():
    """The pipeline, built once per test session."""
    from dermcoder.nlp.pipeline import build_pipeline

    return build_pipeline()


@pytest.fixture(scope="session")
def engine():
    from dermcoder.engine import get_engine

    return get_engine()


def mentions(nlp, text: str):
    """The pipeline's mentions of a text, as plain records."""
    from dermcoder.nlp.frames import mentions_from_doc

    return mentions_from_doc(nlp(text))


@pytest.fixture
def service_settings(tmp_path):
    """Service settings with a fresh SQLite store under the test's temporary directory."""
    from dermcoder.settings import Settings

    return Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'dermcoder.db'}")


@pytest.fixture
def client(engine, service_settings):
    """A TestClient on a fresh app (shared session engine, fresh temporary store)."""
    from fastapi.testclient import TestClient

    from dermcoder.service.app import create_app

    with TestClient(create_app(service_settings)) as test_client:
        yield test_client


CDS_ISSUER = "https://ehr.example.org"


@pytest.fixture(scope="session")
def ehr_keys():
    """The test EHR's key pairs and their public JWKS: RSA 'rsa-1', P-256 'ec-1', P-384 'ec-2'."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa-1", "use": "sig"}
    ec384_key = ec.generate_private_key(ec.SECP384R1())
    ec_jwk = {**jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec-1", "use": "sig"}
    ec384_jwk = {**jwt.algorithms.ECAlgorithm.to_jwk(ec384_key.public_key(), as_dict=True), "kid": "ec-2", "use": "sig"}
    return {"rsa": rsa_key, "ec": ec_key, "ec384": ec384_key, "jwks": {"keys": [rsa_jwk, ec_jwk, ec384_jwk]}}


@pytest.fixture
def cds_token(ehr_keys):
    """Make a CDS Hooks JWT for an endpoint path, signed by the test EHR (claims overridable)."""
    import time
    import uuid

    import jwt

    def make(path: str, *, alg: str = "RS384", kid: str | None = None, drop: tuple[str, ...] = (), **claims) -> str:
        now = int(time.time())
        payload = {"iss": CDS_ISSUER, "sub": "ehr-client", "aud": f"http://testserver{path}", "iat": now,
                   "exp": now + 300, "jti": uuid.uuid4().hex, **claims}  # fmt: skip
        for name in drop:
            payload.pop(name, None)
        key, default_kid = {"ES256": (ehr_keys["ec"], "ec-1"), "ES384": (ehr_keys["ec384"], "ec-2")}.get(
            alg, (ehr_keys["rsa"], "rsa-1"))
        kid = kid or default_kid
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})

    return make


@pytest.fixture
def cds_settings(tmp_path, ehr_keys):
    """Settings trusting the test EHR (inline JWKS), with a fresh temporary store."""
    import json

    from dermcoder.settings import Settings

    return Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'dermcoder.db'}",
                    cds_issuers=json.dumps({CDS_ISSUER: ehr_keys["jwks"]}))  # fmt: skip


@pytest.fixture
def cds_client(engine, cds_settings):
    """A TestClient on an app that trusts the test EHR."""
    from fastapi.testclient import TestClient

    from dermcoder.service.app import create_app

    with TestClient(create_app(cds_settings)) as test_client:
        yield test_client


def corpus_feature_rows(engine, step: int = 3) -> tuple[list, list]:
    """Scorer input rows (candidate rows and note rows) for every `step`-th corpus note."""
    from dermcoder.contracts import LabeledNote
    from dermcoder.jsonl import read_jsonl
    from dermcoder.training.feature_rows import candidate_rows, note_row

    notes, _ = read_jsonl(REPO / "corpus" / "sample" / "notes.jsonl", LabeledNote)
    rows, note_rows = [], []
    for note in notes[::step]:
        ctx = engine.coding_context(note.text)
        rows += [(r.features, r.text) for r in candidate_rows(ctx)]
        note_rows.append(note_row(ctx, [0.9, 0.4], [0.2], [c.confidence for c in ctx.candidates]))
    return rows, note_rows
