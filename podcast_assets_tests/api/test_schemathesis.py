"""Property-based conformance of the live API to its own OpenAPI document."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from podcast_assets.api import create_app
from podcast_assets.settings import Settings

from .conftest import RunningApi

# The document does not depend on the data, so it is taken from the app at collection
# time (parametrizing needs it then); every case is sent to the live server below.
# (``schemathesis.pytest.from_fixture`` would fetch /openapi.json from the server, but its
# lazy loader does not run under pytest 9.)
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_conforms(case: schemathesis.Case, api: RunningApi) -> None:
    """Every documented route, with valid and invalid input and an internal key: only
    documented statuses, bodies and headers as documented, never a 5xx; routes that
    declare a required key refuse requests without one."""
    # Like schemathesis' own auth providers: no key when the case deliberately drops it.
    key = {} if schema.is_security_param_negated(case) else {"Authorization": f"Bearer {api.keys['internal']}"}
    case.call_and_validate(base_url=api.url, headers=key)


def test_served_document_is_the_one_tested(api: RunningApi) -> None:
    assert api.get("/openapi.json").json() == schema.raw_schema
