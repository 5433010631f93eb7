"""Where media bytes live: a small interface, with a local-disk implementation.

An S3-compatible store would implement the same three methods. Keys are
``<media id>/<variant>.<ext>``; ids are checked by the caller before they reach a path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

import anyio

from app.runtime import Runtime, Slot


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def delete(self, key: str) -> None: ...


class LocalDiskStorage:
    """Files under a root folder, written atomically (temp file then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("media key escapes the storage root")
        return path

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    async def put(self, key: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._put, key, data)

    async def get(self, key: str) -> bytes | None:
        return await anyio.to_thread.run_sync(self._get, key)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))


def storage(rt: Runtime) -> Storage:
    """The runtime's media storage (local disk under ``data_dir/media`` by default)."""
    return rt.slot(STORAGE)


STORAGE: Slot[Storage] = Slot("content.storage", lambda rt: LocalDiskStorage(rt.settings.data_dir / "media"))
