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
