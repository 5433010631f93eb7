"""Opaque, sortable string ids."""

import os
import time


def new_id(prefix: str = "") -> str:
    """A 26-character id: 48-bit millisecond time then 80 random bits, base32 (ULID-like).

    Sortable by creation time, so it also works as a stable cursor.
    """
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(alphabet[rem])
    return prefix + "".join(reversed(chars))
