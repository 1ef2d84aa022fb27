"""The store conformance suite: every test here runs once per backend in `BACKENDS`.

A backend is a function that yields the URL of a fresh, empty store for one test (and
cleans up after it); stores are made from it by `open_store`, as the server makes them.
A new backend adds one entry here and passes the suite unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from runtime.store import Store, open_store


@asynccontextmanager
async def sqlite_file(tmp_path: Path) -> AsyncIterator[str]:
    yield f"sqlite:///{tmp_path}/store.db"


BACKENDS: dict[str, Callable[[Path], AbstractAsyncContextManager[str]]] = {
    "sqlite": sqlite_file,
}


class Stores:
    """Stores on one backend location, opened as runtimes sharing it (or restarting on it)
    would open them; whatever is still open is closed at the end of the test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._open: list[Store] = []

    async def open(self) -> Store:
        store = open_store(self.url)
        await store.open()
        self._open.append(store)
        return store

    async def close(self, store: Store) -> None:
        self._open.remove(store)
        await store.close()

    async def restart(self, store: Store) -> Store:
        """Close a store and open the same location again (a runtime's restart)."""
        await self.close(store)
        return await self.open()

    async def close_all(self) -> None:
        while self._open:
            await self.close(self._open[-1])


@pytest.fixture(params=sorted(BACKENDS))
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    async with BACKENDS[request.param](tmp_path) as url:
        opened = Stores(url)
        try:
            yield opened
        finally:
            await opened.close_all()


@pytest.fixture
async def store(stores: Stores) -> Store:
    return await stores.open()
