"""API fuzzing with schemathesis against the service's own OpenAPI schema.

The app runs in process (ASGI) with a temporary SQLite store; CDS Hooks calls carry a
fresh valid JWT so the fuzzing reaches past authentication. Every generated request must
get no 5xx, a documented status code, the documented content type and headers, and a body
that matches the response schema; requests that break the schema must be refused (4xx). 60 examples per operation by default, 600 with --slow.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from dermcoder.service.app import create_app

# Left out: "schema-valid data must be accepted". A coder decision has rules JSON Schema
# cannot state (a CPT code is 5 digits but an ICD-10-CM one is dotted; an overridden line
# needs a replacement): they are answered 422 with the rule in words. The check did find
# two real gaps, now documented in the schema: an empty batch and a blank note.
from schemathesis.specs.openapi.checks import positive_data_acceptance

# The profile loaded by conftest decides the budget (500 = default run, 10,000 = --slow).
EXAMPLES = 600 if settings.default.max_examples >= 10_000 else 60
CASES: Counter = Counter()


@pytest.fixture(scope="module")
def api_schema(engine, ehr_keys, tmp_path_factory):
    import json

    from dermcoder.settings import Settings

    data = tmp_path_factory.mktemp("schemathesis")
    settings_ = Settings(data_dir=data, database_url=f"sqlite:///{data / 'dermcoder.db'}",
                         cds_issuers=json.dumps({"https://ehr.example.org": ehr_keys["jwks"]}))  # fmt: skip
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(settings_))
    total = sum(CASES.values())
    print(f"\nschemathesis: {total} cases over {len(CASES)} operations: {dict(CASES)}")


def test_schemathesis_api_conforms(api_schema, cds_token):
    """Every operation of the schema, EXAMPLES generated requests each (one hypothesis run per
    operation, so a failure names the operation and its falsifying case)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            headers = {}
            if case.path.startswith("/cds-services/{"):
                path = case.formatted_path
                headers["Authorization"] = f"Bearer {cds_token(path, aud='http://testserver' + path)}"
            CASES[f"{case.method} {case.path}"] += 1
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
            assert "Traceback" not in response.text
            case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])

        check()
    assert sum(CASES.values()) >= len(operations) * 5
