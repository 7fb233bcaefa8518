"""Tasks in a real browser: a Hackney application, an Altinn gateway choice, Concord's portal walk-through."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser.conftest import Server, define, sign_in

HOUSING = {
    "initialState": "ApplicationStarted",
    "states": {
        "ApplicationStarted": {"assignment": {"patch": "housingofficers"}, "requires": {"formData": True},
                               "triggers": {"AttachDocuments": "DocumentsAttached"}},
        "DocumentsAttached": {"requires": {"documents": 1}, "triggers": {"SubmitApplication": "ApplicationSubmitted"}},
        "ApplicationSubmitted": {"final": True},
    },
}

CHOICE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="D">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:task id="Fill" name="Fill in">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:exclusiveGateway id="Route"/>
    <bpmn:task id="Approve" name="Approve it">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>confirmation</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:task id="Archive" name="Archive it">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Fill"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Fill" targetRef="Route"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Route" targetRef="Approve"/>
    <bpmn:sequenceFlow id="f4" sourceRef="Route" targetRef="Archive"/>
    <bpmn:sequenceFlow id="f5" sourceRef="Approve" targetRef="End"/>
    <bpmn:sequenceFlow id="f6" sourceRef="Archive" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>"""


async def _start(page: Page) -> None:
    await page.get_by_role("button", name="Start", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/ui/processes/[0-9a-f-]{36}$"))


async def test_a_hackney_application_through_its_three_states(page: Page, server: Server, tmp_path):
    await define(server, "housing", {"name": "Housing application", "workflow": HOUSING})
    await sign_in(page, server, "bob", path="/ui/definitions/housing")
    await _start(page)
    await expect(page.get_by_role("heading", name="Waiting on: ApplicationStarted")).to_be_visible()
    # Without form data the trigger is refused, and nothing changes.
    await page.get_by_role("button", name="AttachDocuments").click()
    await expect(page.locator("#task-errors")).to_contain_text("form data is required")
    await expect(page.locator("#element")).to_have_text("ApplicationStarted")
    await page.get_by_label("Field name 1").fill("income")
    await page.get_by_label("Value 1").fill("21000")
    await page.get_by_role("button", name="AttachDocuments").click()
    await expect(page.locator("#element")).to_have_text("DocumentsAttached")
    await expect(page.locator("#form-data")).to_contain_text("21000")
    document = tmp_path / "payslip.pdf"
    document.write_bytes(b"%PDF-1.4 payslip")
    await page.get_by_label("Upload documents").set_input_files(str(document))
    await page.get_by_label("Reassign to").fill("housingofficers")
    await page.get_by_role("button", name="SubmitApplication").click()
    await expect(page.locator("#status")).to_have_text("completed")
    await expect(page.locator("#element")).to_have_text("ApplicationSubmitted")
    await expect(page.locator("#documents")).to_contain_text("payslip.pdf")
    await expect(page.locator("#timeline")).to_contain_text("DocumentAttached")


async def test_an_altinn_process_with_a_gateway_choice(page: Page, server: Server):
    await define(server, "approval", {"name": "Approval", "workflow": CHOICE})
    await sign_in(page, server, "bob", path="/ui/definitions/approval")
    await _start(page)
    await expect(page.get_by_role("heading", name="Waiting on: Fill in")).to_be_visible()
    await page.get_by_label("Archive it").check()
    await page.get_by_role("button", name="Complete this task").click()
    await expect(page.locator("#element")).to_have_text("Archive")
    await page.get_by_role("button", name="Complete this task").click()
    await expect(page.locator("#status")).to_have_text("completed")
    await expect(page.locator("#timeline")).to_contain_text("TaskEnded")


async def test_the_concord_portal_walks_a_plain_browser_through_sign_in_and_every_form(page: Page, server: Server):
    await define(server, "onboarding", {"name": "Onboarding", "workflow": {
        "states": {"Details": {"requires": {"formData": ["email"]}, "triggers": {"Send": "Done"}},
                   "Done": {"final": True}}}})
    await page.goto(server.url + "/api/service/process_portal/start?entryPoint=onboarding&team=blue")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    await page.get_by_label("Token").fill(server.tokens["bob"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Start onboarding")
    await page.get_by_role("button", name="Start it").click()
    await expect(page.locator("#parameters")).to_contain_text("blue")
    await expect(page.locator("#status")).to_have_text("waiting")
    await page.get_by_role("button", name="Send").click()  # the required field left empty
    await expect(page.locator("#error-email")).to_contain_text("'email' is required")
    await expect(page.get_by_label("email")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#element")).to_have_text("Details")
    await page.get_by_label("email").fill("bob@example.org")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#status")).to_have_text("completed")
