"""A database that vanished under a running web app: searches and pages not yet cached
answer 503 with Retry-After, never a 500 (found trying it as a careless operator)."""

from __future__ import annotations

from pathlib import Path

import httpx

from feedbot.app import searches
from feedbot.config import Settings
from feedbot.http.app import create_app
from feedbot.publish.site import Site
from feedbot.store import Store, StoreSource
from tests.storekit import off_loop

SETTINGS = Settings()


async def test_a_vanished_database_answers_503(tmp_path: Path) -> None:
    database = tmp_path / "feedbot.sqlite3"
    store = await off_loop(Store.open, database)
    try:
        site = Site(StoreSource(store.articles), SETTINGS.feed)
        app = create_app(
            site, SETTINGS.http, offload=store.call, searches=searches(store, SETTINGS.feed)
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/search", params={"q": "riforma"})).status_code == 200
            await off_loop(store.close)
            for suffix in ("", "-wal", "-shm"):
                (tmp_path / f"feedbot.sqlite3{suffix}").unlink(missing_ok=True)
            for path in ("/search?q=pensioni", "/articles/001_x.html", "/it/feed.atom"):
                r = await client.get(path)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["retry-after"] == "5"
    finally:
        await off_loop(store.close)
