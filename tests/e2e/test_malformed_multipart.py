"""A malformed multipart body on the DSpace invocation and the Concord start is a 400 problem."""

from __future__ import annotations

import pytest

ROUTES = ["/api/system/scripts/echo-params/processes", "/api/v1/process"]
B = "b0undary"
BODIES = {
    "a part with no headers": (B, b"--b0undary\r\n75386417471956390510592--b0undary--\r\n"),
    "a header line that is not a header": (B, b"--b0undary\r\njunk\r\n\r\nx\r\n--b0undary--\r\n"),
    "a control character in a header": (B, b'--b0undary\r\nContent-Disposition: form-data; name="\x16"\r\n\r\nx\r\n--b0undary--\r\n'),
    "an empty boundary": ("", b"--\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n----\r\n"),
    "a part that is not name=": (B, b"--b0undary\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b0undary--\r\n"),
    "a disposition with only a filename": (B, b'--b0undary\r\nContent-Disposition: form-data; filename="f.txt"\r\n\r\nx\r\n--b0undary--\r\n'),
    "an unknown transfer encoding": (B, b"--b0undary\r\nContent-Disposition: form-data; name=a\r\n"
                                       b"Content-Transfer-Encoding: rot13\r\n\r\nx\r\n--b0undary--\r\n"),
    "base64 that is not": (B, b"--b0undary\r\nContent-Disposition: form-data; name=a\r\n"
                              b"Content-Transfer-Encoding: base64\r\n\r\n!!!\r\n--b0undary--\r\n"),
    "only a closing delimiter": (B, b"--b0undary--\r\n"),
    "no delimiter at all": (B, b"just some bytes"),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", sorted(BODIES))
async def test_a_malformed_multipart_body_is_a_400_problem_and_stores_nothing(api, route, case):
    boundary, body = BODIES[case]
    r = await api.admin("POST", route, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    assert r.status == 400, await r.text()
    assert r.content_type == "application/problem+json"
    assert (await r.json(content_type=None))["status"] == 400
    assert await api.event_count() == 0


@pytest.mark.parametrize("route", ROUTES)
async def test_multipart_without_a_boundary_parameter_is_a_400_problem(api, route):
    r = await api.admin("POST", route, data=b"x", headers={"Content-Type": "multipart/form-data"})

    assert r.status == 400 and r.content_type == "application/problem+json"
