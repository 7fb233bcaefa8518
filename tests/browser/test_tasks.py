"""Tasks in a real browser: a Hackney application, an Altinn gateway choice, Concord's portal walk-through and forms."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from playwright.async_api import Page, expect

from tests.browser.conftest import Server, api, define, sign_in
from tests.zips import a_zip

CONCORD = Path(__file__).parents[1] / "fixtures" / "concord"

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


def concord_upload(project: str) -> aiohttp.FormData:
    """A Concord project of the test fixtures as the multipart upload that starts it."""
    upload = aiohttp.FormData()
    archive = a_zip({"concord.yml": (CONCORD / project / "concord.yml").read_text()})
    upload.add_field("archive", archive, filename="payload.zip", content_type="application/octet-stream")
    return upload


async def test_a_concord_form_from_the_portal_link_shows_each_wrong_value_beside_its_field(page: Page, server: Server):
    first = await api(server, "bob", "POST", "/api/v1/process", data=concord_upload("form"))
    key = (await api(server, "bob", "GET", f"/api/v1/process/{first['instanceId']}"))["projectName"]

    await page.goto(server.url + f"/api/service/process_portal/start?entryPoint={key}")
    await page.get_by_label("Token").fill(server.tokens["bob"])
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Start it").click()
    await expect(page.get_by_role("heading", name="Waiting on: myForm")).to_be_visible()
    # The controls follow the declared types: a number with its bounds, a list of allowed values, a checkbox.
    await expect(page.get_by_label("Age")).to_have_attribute("type", "number")
    await expect(page.get_by_label("Age")).to_have_attribute("max", "100")
    await expect(page.get_by_label("Subscribe")).to_have_attribute("type", "checkbox")
    await expect(page.get_by_label("Origin")).to_have_attribute("readonly", "")
    await page.get_by_label("Name").fill("Ada")
    await page.get_by_label("Age").fill("12")
    await page.get_by_label("Favourite colour").select_option("green")
    await page.get_by_role("button", name="Submit myForm").click()
    await expect(page.locator("#error-fullName")).to_have_text("Name: value 'Ada' doesn't match pattern '.* .*'")
    await expect(page.locator("#error-age")).to_have_text("Age: value '12' must be within 21 and 100 (inclusive)")
    await expect(page.get_by_label("Age")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Name")).to_have_value("Ada")  # what was typed stays, to be corrected
    await expect(page.get_by_label("Favourite colour")).to_have_value("green")
    await expect(page.locator("#status")).to_have_text("waiting")
    await expect(page.locator("#timeline")).not_to_contain_text("FormSubmitted")

    await page.get_by_label("Name").fill("Ada Lovelace")
    await page.get_by_label("Age").fill("36")
    await page.get_by_label("Subscribe").check()
    await page.get_by_role("button", name="Submit myForm").click()
    await expect(page.locator("#status")).to_have_text("completed")
    await expect(page.locator("#log")).to_contain_text("Hello, Ada Lovelace, aged 36, likes green")
    await expect(page.locator("#log")).to_contain_text("subscribed")

    # The upload's own process still waits on its form: it is among Bob's tasks.
    await page.goto(server.url + "/ui/tasks")
    await page.get_by_role("link", name="myForm").click()
    await expect(page.get_by_role("heading", name="Waiting on: myForm")).to_be_visible()
    await expect(page).to_have_url(re.compile(first["instanceId"]))


async def test_a_change_while_someone_fills_in_the_form_does_not_wipe_what_they_typed(page: Page, server: Server):
    await define(server, "housing-live", {"name": "Housing application", "workflow": HOUSING})
    await sign_in(page, server, "bob", path="/ui/definitions/housing-live")
    await _start(page)
    await expect(page.locator("#process-live")).to_have_attribute("data-live", "on")
    await page.get_by_label("Field name 1").fill("income")
    instance_id = page.url.rsplit("/", 1)[1]
    await api(server, "alice", "PATCH", f"/api/v1/process/housing-live/{instance_id}",
              json={"formData": {"household": "2"}})
    await expect(page.locator("[data-changed-note]")).to_be_visible()
    await expect(page.get_by_label("Field name 1")).to_have_value("income")
    await page.get_by_role("link", name="Reload it").click()
    await expect(page.locator("#form-data")).to_contain_text("household")


async def test_changes_in_quick_succession_all_reach_an_open_page(page: Page, server: Server):
    await define(server, "housing-quick", {"name": "Housing application", "workflow": HOUSING})
    await sign_in(page, server, "bob", path="/ui/definitions/housing-quick")
    await _start(page)
    await expect(page.locator("#process-live")).to_have_attribute("data-live", "on")
    base = f"/api/v1/process/housing-quick/{page.url.rsplit('/', 1)[1]}"
    # The second change lands while the page still fetches the first: it must not be dropped.
    await api(server, "alice", "PATCH", base + "/AttachDocuments", json={"formData": {"income": "1"}})
    await api(server, "alice", "PATCH", base + "/SubmitApplication", json={"documents": ["payslip.pdf"]})
    await expect(page.locator("#status")).to_have_text("completed")
    await expect(page.locator("#element")).to_have_text("ApplicationSubmitted")
