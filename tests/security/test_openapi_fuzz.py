"""schemathesis against poll-api's own OpenAPI schema, on a real poll-api process.

Positive and negative cases for every operation (over 1,000 in all): never a 5xx, invalid data
is refused with a 4xx, and every answer (status, content type, headers, body) matches the
schema. The case count is asserted, so a schema that shrinks cannot quietly test less.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.procs import Stack

pytestmark = pytest.mark.e2e

CASES_PER_MODE = 600
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_poll_api_answers_every_generated_request_by_its_schema(
    sec_stack: Stack, mode: GenerationMode
) -> None:
    base_url = sec_stack["poll_api"].url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    calls = 0

    @settings(
        max_examples=CASES_PER_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate),
    )
    @given(case=schema.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)

    call()
    assert calls >= CASES_PER_MODE * 0.9, calls
