"""Execution ids: UUIDv7 (RFC 9562), so ids sort by creation time."""

from __future__ import annotations

import os
import random
import time
import uuid

# Seeded once from the OS; one urandom syscall per id costs more than the rest of it.
_random = random.Random(os.urandom(32))


def new_execution_id() -> str:
    millis = time.time_ns() // 1_000_000
    rand = _random.getrandbits(74)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= (rand >> 62) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 9562 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return str(uuid.UUID(int=value))
