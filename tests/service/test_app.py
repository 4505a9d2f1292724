"""The minimal service: health, version and suggest through FastAPI's TestClient."""

from fastapi.testclient import TestClient

from dermcoder.service.app import create_app


def test_service_health_version_suggest():
    with TestClient(create_app()) as client:
        assert client.get("/health").json() == {"status": "ok"}
        version = client.get("/version").json()
        assert version["cpt_code_set"] == "CPT 2025" and "2024Q2" in version["ncci_quarter"]
        body = client.post("/v1/suggest", json={"id": "a", "text": "Punch biopsy left arm."}).json()
        assert body["id"] == "a" and "cpt" in body and "icd10" in body
        assert client.post("/v1/suggest", json={"id": "a", "text": "   "}).status_code == 422
