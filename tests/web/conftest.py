"""The web workspace's fixtures: the seeded center (`tests.helpers.web`) on each backend, the app
over it, and clients logged in through the login form.

The center is seeded once per session into a SQLite template; each test gets its rows copied into
its own fresh `db` (SQLite, and PostgreSQL when $QCPIPE_TEST_PG is set).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qcpipe.accounts import passwords, service
from qcpipe.config import Settings
from qcpipe.store import Database
from qcpipe.web import create_app
from tests.helpers.browser import chromium_problem, launch_chromium, live_server
from tests.helpers.databases import copy_rows, temporary_database
from tests.helpers.web import Browser, cheap_hash, logged_in as log_in_through_form, seed_center


@pytest.fixture(autouse=True)
def _web_home(tmp_path: Path, monkeypatch) -> None:
    """QCPIPE_HOME in the test's folder (the audio cache lives there). Logins made cheap: unknown
    names verified against a cheap hash, and the seeded accounts' cheap hashes not upgraded to the
    product's on login (each costs ~0.4 s; what they guard, equal timing and strength, is not what
    these tests measure)."""
    monkeypatch.setenv("QCPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: cheap_hash("qcpipe: no such user"))
    monkeypatch.setattr(service, "needs_rehash", lambda password_hash: False)


@pytest.fixture(scope="session")
def center_template(tmp_path_factory, rulebook) -> Database:
    """The seeded center in SQLite, once per session (copied into each test's database)."""
    with temporary_database("sqlite", tmp_path_factory.mktemp("center")) as database:
        with database.transaction() as session:
            seed_center(session, rulebook)
        yield database


@pytest.fixture
def center(db: Database, center_template: Database) -> Database:
    """This test's own copy of the seeded center, on each backend."""
    copy_rows(center_template, db)
    return db


@pytest.fixture
def web_settings(center: Database) -> Settings:
    return Settings(db_url=center.url)


@pytest.fixture
def app(web_settings: Settings, center: Database) -> FastAPI:
    return create_app(web_settings, center)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    """An anonymous browser (redirects are not followed: tests look at them)."""
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def logged_in() -> Callable[[TestClient, str], str]:
    """logged_in(client, name): log in through GET /login + POST /login; the session's CSRF token."""
    return log_in_through_form


@pytest.fixture
def browser(app: FastAPI) -> Callable[[str], Browser]:
    """browser(name): a new client logged in as `name` (each its own cookies)."""

    def open_as(name: str) -> Browser:
        client = TestClient(app, follow_redirects=False)
        return Browser(client, log_in_through_form(client, name))

    return open_as


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    """Debian's Chromium under Playwright, launched once for the browser tests (skipped, saying why,
    where it cannot run; under CI=true that fails instead)."""
    problem = chromium_problem()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser tests must run under CI=true, and {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def base(sqlite_db: Database, center_template: Database) -> Iterator[str]:
    """A live server over this test's copy of the seeded center (SQLite): its base URL."""
    copy_rows(center_template, sqlite_db)
    with live_server(create_app(Settings(db_url=sqlite_db.url), store=sqlite_db)) as url:
        yield url
