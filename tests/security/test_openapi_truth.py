"""/openapi.json's security declarations are what the agent enforces: every operation that
requires a scheme refuses an anonymous caller with 401 (in the contract's envelope), and no
operation that requires none does (one where a credential is optional included). Every operation is called, so a route added without its
security dependency (agent/web/auth.py) fails here by name."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.queue_fixtures import join, queue_config, staff_headers

SAMPLE_STRING = "x"


def sample(schema: dict[str, Any], document: dict[str, Any]) -> object:  # noqa: PLR0911
    """A small value the schema accepts (required properties only): enough to get past body
    validation, which some routes run before they look at the caller."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return sample(document["components"]["schemas"][name], document)
    if "anyOf" in schema:
        return sample(schema["anyOf"][0], document)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: sample(properties[key], document) for key in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    if "enum" in schema:
        return schema["enum"][0]
    return SAMPLE_STRING * max(1, int(schema.get("minLength", 1)))


async def test_declared_security_is_enforced_and_nothing_else_asks(
    write_config, start_agent
) -> None:
    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as holder:
        ticket = (await join(holder, agent))["ticket"]["id"]
        await staff_headers(holder, agent.components.config)  # a tablet exists, unused here
    # A caller with no credential and no cookie.
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        document = (await client.get("/openapi.json")).json()
        schemes = document["components"]["securitySchemes"]
        assert set(schemes) == {"Bearer", "Ticket", "Display"}
        assert schemes["Ticket"] == schemes["Ticket"] | {"type": "http", "scheme": "Ticket"}
        assert schemes["Bearer"]["scheme"] == "bearer"
        values = {"queue": "advice", "ticket_id": ticket, "alert_id": "a1", "customer_id": "c1"}
        values["appointment_id"] = "b-1"  # issue 14: a booking's manual check-in
        wrong: list[str] = []
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                url = path.format(**{k: v for k, v in values.items() if "{" + k + "}" in path})
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                kwargs: dict[str, Any] = {}
                if body is not None:
                    kwargs["json"] = sample(body["schema"], document)
                if path.endswith("/stream"):
                    async with client.stream(method.upper(), url, **kwargs) as response:
                        status = response.status_code
                        error = (await response.aread()).decode() if status >= 400 else ""
                else:
                    response = await client.request(method.upper(), url, **kwargs)
                    status, error = response.status_code, response.text
                security = operation.get("security", [])
                # `{}` among the alternatives: the credential is optional (a walk-in's tablet).
                declared = bool(security) and {} not in security
                if declared and not (status == 401 and '"code":"unauthorized"' in error):
                    wrong.append(f"{method.upper()} {path}: declares security, answered {status}")
                if not declared and status == 401:
                    wrong.append(f"{method.upper()} {path}: declares none, answered 401")
                if declared:
                    assert "401" in operation["responses"], path
    assert wrong == []
