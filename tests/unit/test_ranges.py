"""Byte ranges as RFC 9110 defines them: 206 with Content-Range, 416 past the end, 200 otherwise."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from services.http.problems import ProblemError
from services.http.ranges import ByteRange, Unsatisfiable, parse_range, ranged_response

BODY = b"0123456789"


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-4", 0, 4),
    ("bytes=2-2", 2, 2),
    ("bytes=5-", 5, 9),
    ("bytes=-3", 7, 9),
    ("bytes=-100", 0, 9),
    ("bytes=8-100", 8, 9),
    (" bytes=1-2 ", 1, 2),
])
def test_a_satisfiable_range_names_the_bytes_to_send(header, first, last):
    assert parse_range(header, len(BODY)) == ByteRange(first, last, 10)


@pytest.mark.parametrize("header", [None, "items=0-1", "bytes=abc", "bytes=4-2", "bytes=0-1,3-4", "bytes=", "0-4"])
def test_a_missing_or_unreadable_range_means_the_whole_body(header):
    assert parse_range(header, len(BODY)) is None


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=-0", 10), ("bytes=-5", 0), ("bytes=0-", 0)])
def test_a_range_wholly_past_the_end_is_unsatisfiable(header, size):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_content_range_names_inclusive_positions_and_the_size():
    assert ByteRange(7, 9, 10).content_range == "bytes 7-9/10"


def _request(**headers: str):
    return make_mocked_request("GET", "/log", headers=headers)


def test_a_ranged_request_is_answered_206_with_the_part():
    response = ranged_response(_request(Range="bytes=-3"), BODY, content_type="text/plain")

    assert response.status == 206
    assert response.body == b"789"
    assert response.headers["Content-Range"] == "bytes 7-9/10"


def test_a_request_without_range_is_answered_200_whole_and_advertises_ranges():
    response = ranged_response(_request(), BODY, content_type="text/plain")

    assert (response.status, response.body) == (200, BODY)
    assert response.headers["Accept-Ranges"] == "bytes"


def test_an_unsatisfiable_range_is_416_naming_the_size():
    with pytest.raises(ProblemError) as refused:
        ranged_response(_request(Range="bytes=50-"), BODY, content_type="text/plain")

    assert refused.value.status == 416
    assert refused.value.headers["Content-Range"] == "bytes */10"


def test_if_range_with_the_current_etag_keeps_the_range():
    response = ranged_response(_request(Range="bytes=0-1", **{"If-Range": '"v1"'}), BODY, content_type="text/plain", etag='"v1"')

    assert (response.status, response.body) == (206, b"01")


def test_if_range_with_a_stale_etag_sends_the_whole_body():
    response = ranged_response(_request(Range="bytes=0-1", **{"If-Range": '"v0"'}), BODY, content_type="text/plain", etag='"v1"')

    assert (response.status, response.body) == (200, BODY)
    assert response.headers["ETag"] == '"v1"'
