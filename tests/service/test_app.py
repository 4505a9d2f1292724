"""The service's basic surface through FastAPI's TestClient: health, version, page, static."""

from dermcoder.service.app import STATIC_DIR


def test_app_health_and_version(client):
    assert client.get("/health").json() == {"status": "ok"}
    version = client.get("/version").json()
    assert version["cpt_code_set"] == "CPT 2025" and version["cpt_year"] == 2025
    assert version["icd10cm_fiscal_year"] == 2026 and "2024Q2" in version["ncci_quarter"]
    assert version["model"]["pipeline"] and version["model"]["version"]
    # the card is the running scorer's own meta.json, not any file lying in models/
    assert version["model"]["name"] == version["model_card"]["name"] == client.app.state.engine.scorer.name
    assert version["model_card"]["model_sha256"] == client.app.state.engine.scorer.meta["model_sha256"]


def test_app_serves_the_page_and_static_files(client):
    index = STATIC_DIR / "index.html"
    page = client.get("/")
    if index.is_file():
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text == index.read_text(encoding="utf-8")
        assert client.get("/static/index.html").text == page.text
    else:
        assert page.status_code == 404
    assert client.get("/static/no-such-file.js").status_code == 404


def test_app_openapi_lists_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/health", "/version", "/v1/suggest", "/v1/batch", "/v1/feedback", "/v1/feedback/{audit_id}"):
        assert path in paths
