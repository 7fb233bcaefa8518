"""Diagrams over real HTTP: BPMN drawn from its own BPMNDI, state machines laid out, the run marked, names escaped."""

from __future__ import annotations

import re

from events.workflow import compile_workflow
from services.faces.portal.diagram import diagram
from tests.e2e.conftest import Api
from tests.e2e.test_portal_security import sign_in

MARKUP = "<script>alert(1)</script>"
BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="D">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:userTask id="Fill" name="{MARKUP.replace('<', '&lt;').replace('>', '&gt;')}"/>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Fill"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Fill" targetRef="End"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Dg"><bpmndi:BPMNPlane id="Pl" bpmnElement="P">
    <bpmndi:BPMNShape id="s1" bpmnElement="Start"><dc:Bounds x="100" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s2" bpmnElement="Fill"><dc:Bounds x="200" y="78" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s3" bpmnElement="End"><dc:Bounds x="400" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="e1" bpmnElement="f1"><di:waypoint x="136" y="118"/><di:waypoint x="200" y="118"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e2" bpmnElement="f2"><di:waypoint x="300" y="118"/><di:waypoint x="400" y="118"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"""
MACHINE = {
    "initialState": "Started",
    "states": {
        "Started": {"triggers": {"Go": "Middle", "Skip": "Done"}},
        "Middle": {"triggers": {"Back": "Started", "Finish": "Done"}},
        "Done": {"final": True},
    },
}


def test_bpmn_uses_its_own_shapes_and_a_state_machine_gets_layers():
    drawn = diagram({"workflow": BPMN}, compile_workflow({"workflow": BPMN}))
    assert drawn is not None and drawn.source == "bpmndi"
    assert {(s.id, s.x, s.y, s.w, s.h) for s in drawn.shapes} >= {("Fill", 200, 78, 100, 80)}
    assert [e.points for e in drawn.edges] == ["136,118 200,118", "300,118 400,118"]
    machine = diagram({"workflow": MACHINE}, compile_workflow({"workflow": MACHINE}))
    assert machine is not None and machine.source == "layout"
    x = {s.id: s.x for s in machine.shapes}
    assert x["Started"] < x["Middle"] and x["Started"] < x["Done"]  # layers follow the flow
    assert {(e.source, e.target) for e in machine.edges} >= {("Started", "Middle"), ("Middle", "Started"), ("Middle", "Done")}


async def test_the_definition_page_draws_bpmn_with_names_escaped(api: Api):
    r = await api.admin("POST", "/api/process/v1", json={"_id": "drawn", "workflow": BPMN})
    assert r.status == 201, await r.text()
    await sign_in(api, api.user_token)
    text = await (await api.client.get("/ui/definitions/drawn")).text()
    svg = text[text.index("<svg"):text.index("</svg>")]
    assert '<rect x="200.0" y="78.0" width="100.0" height="80.0"' in svg
    assert '<polyline points="136,118 200,118" marker-end="url(#arrow)"/>' in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and MARKUP not in text
    assert "Drawn from the model" in text


async def test_the_process_page_marks_passed_and_current(api: Api):
    r = await api.admin("POST", "/api/process/v1", json={"_id": "machine", "workflow": MACHINE})
    assert r.status == 201, await r.text()
    csrf = await sign_in(api, api.user_token)
    r = await api.client.post("/ui/definitions/machine/start", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303, await r.text()
    location = r.headers["Location"]
    text = await (await api.client.get(location)).text()
    assert 'class="node task current" data-element="Started"' in text
    r = await api.client.post(location + "/task", data={"csrf": csrf, "trigger": "Go"}, allow_redirects=False)
    assert r.status == 303, await r.text()
    text = await (await api.client.get(location + "/summary")).text()
    assert 'class="node task passed" data-element="Started"' in text
    assert 'class="node task current" data-element="Middle"' in text
    assert re.search(r'class="node [a-z]+ " data-element="Done"', text)
