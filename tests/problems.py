"""The one assertion for a refused request: an RFC 9457 problem document with the right status."""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"


async def problem(response: Any, *statuses: int) -> dict[str, Any]:
    """Assert `response` is a problem document with one of `statuses`; return its body.

    Every problem this service sends names its type, title, status and detail, and its
    `status` member is the response's status.
    """
    assert response.status in statuses, f"{response.status} not in {statuses}: {await response.text()}"
    assert response.content_type == PROBLEM_JSON
    body = await response.json(content_type=None)
    assert body["status"] == response.status
    assert body["type"] and body["title"] and body["detail"]
    return body
