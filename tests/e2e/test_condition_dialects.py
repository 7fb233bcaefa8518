"""Gateway conditions in each dialect through HTTP: Altinn JSON, FEEL (`= …`), Camunda EL (`${…}`), text.

The same BPMN model runs with its condition written in each; a condition outside its dialect
is refused when the configuration is saved, naming the flow.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_altinn import MODEL, an_instance, submit
from tests.problems import problem

ALTINN = '["greaterThan", ["dataModel", "amount"], 100]'
DIALECTS = {"feel": "= amount > 100", "camunda": "${amount > 100}", "text": "amount > 100"}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
async def test_a_gateway_condition_in_each_dialect_routes_the_flow(api, dialect: str):
    key = f"dialect-{dialect}"
    r = await api.admin("POST", "/api/process/v1", json={"_id": key, "workflow": MODEL.replace(ALTINN, DIALECTS[dialect])})
    assert r.status == 201, await r.text()
    big, small = await an_instance(api, key), await an_instance(api, key)
    for path, amount in ((big, 500), (small, 5)):
        await api.user("POST", f"{path}/process/start")
        await submit(api, path, {"amount": amount})

    assert await (await api.user("GET", f"{big}/process/next")).json() == ["Task_2"]
    assert await (await api.user("GET", f"{small}/process/next")).json() == ["EndEvent_1"]


@pytest.mark.parametrize("condition", ["= amount ~ 100", "${amount >}", "${amount} and ${more}"])
async def test_a_condition_outside_its_dialect_is_refused_naming_the_flow(api, condition: str):
    r = await api.admin("POST", "/api/process/v1", json={"_id": "dialect-bad", "workflow": MODEL.replace(ALTINN, condition)})

    body = await problem(r, 422)
    assert any("Flow_big" in e for e in body["errors"]), body
