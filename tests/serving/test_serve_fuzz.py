"""Schema-driven fuzzing: schemathesis generates valid and invalid requests from the app's own OpenAPI schema
and checks every answer (no 5xx, documented status codes and content types, responses matching the schema,
schema-invalid data refused). Bounded: 30 examples per operation and mode, derandomized."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="the fuzz test needs schemathesis (in vaelab[test])")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

MAX_EXAMPLES = 30
OPERATIONS = [("GET", "/api/info"), ("POST", "/api/decode"), ("POST", "/api/encode"), ("POST", "/api/sample"),
              ("POST", "/api/score"), ("GET", "/api/latent-map"), ("GET", "/api/latent-map/points/{index}"),
              ("GET", "/api/stats")]


@pytest.fixture(scope="module")
def api_schema(app8):
    return schemathesis.openapi.from_asgi("/openapi.json", app8)


def test_every_operation_is_fuzzed(api_schema):
    found = sorted((op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations())
    assert found == sorted(OPERATIONS)


CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [  # invalid data needs inputs to spoil
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if m == "POST" or "{" in p]


@pytest.mark.parametrize("method, path, mode", CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_api_fuzz(api_schema, method, path, mode):
    operation = api_schema[path][method]
    statuses: list[int] = []
    # a schema-valid string need not be a PNG: image endpoints may refuse valid-looking data with a 422
    excluded = [positive_data_acceptance] if path in ("/api/encode", "/api/score") else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call_and_validate(excluded_checks=excluded)
        assert response.status_code < 500, (case.body, response.text)
        statuses.append(response.status_code)

    fuzz()
    assert statuses  # it ran
    if mode is GenerationMode.NEGATIVE and method == "POST":
        assert any(400 <= s < 500 for s in statuses)  # invalid bodies were sent and refused
