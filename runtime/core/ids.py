"""Execution ids: UUIDv7 (RFC 9562), so ids sort by creation time.

Within one process ids are strictly increasing (RFC 9562, 6.2 method 3): an id made in
the same millisecond as the previous one is that one plus one, so ordering by id is
ordering by creation even for ids made microseconds apart.

The random bits come from the OS (ids must not be guessable), read 4 KiB at a time:
one syscall per id would cost more than the rest of building it.
"""

from __future__ import annotations

import os
import time

_BUFFER_SIZE = 4096
_RANDOM_BYTES = 10
_buffer = b""
_offset = _BUFFER_SIZE
_last = 0


def _random_bits() -> int:
    global _buffer, _offset
    if _offset + _RANDOM_BYTES > len(_buffer):
        _buffer, _offset = os.urandom(_BUFFER_SIZE), 0
    chunk = _buffer[_offset : _offset + _RANDOM_BYTES]
    _offset += _RANDOM_BYTES
    return int.from_bytes(chunk, "big")


def new_execution_id() -> str:
    global _last
    millis = time.time_ns() // 1_000_000
    if millis <= _last >> 80:  # same millisecond (or the clock stepped back)
        _last += 1
        return _format(_last)
    rand = _random_bits()
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 68) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 9562 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    _last = value
    return _format(value)


def _format(value: int) -> str:
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
