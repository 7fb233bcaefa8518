"""The tamper-evidence hash chain, the Python twin of the formula in `procession_append`.

hash(n) = SHA-256(hash(n-1) || position || originator id || version || topic || state),
with integers as 8-byte big-endian, the id as its 16 bytes and the topic in UTF-8;
the first event chains to 32 zero bytes.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

GENESIS = bytes(32)


def chain_hash(previous: bytes, position: int, originator_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    """The hash of one event given the hash of the event before it."""
    digest = hashlib.sha256(previous)
    digest.update(position.to_bytes(8, "big", signed=True))
    digest.update(originator_id.bytes)
    digest.update(version.to_bytes(8, "big", signed=True))
    digest.update(topic.encode())
    digest.update(state)
    return digest.digest()
