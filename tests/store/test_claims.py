"""Call claims: two runs never take one call, and a dead run's claims are taken over once.
On each database; on PostgreSQL with two transactions open at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from qcpipe.store import CallClaim, Database
from qcpipe.store.claims import RunOwner, claim_call, release_claims
from qcpipe.store.models import utcnow

LEASE_S = 120.0


def test_a_claimed_call_is_busy_for_another_run_and_free_once_released(db: Database) -> None:
    first, second = RunOwner(token="first"), RunOwner(token="second")
    with db.claim_transaction() as session:
        assert claim_call(session, "C1", first, LEASE_S) is None
    with db.claim_transaction() as session:
        holder = claim_call(session, "C1", second, LEASE_S)
        assert holder is not None and holder.owner == first.key
    with db.claim_transaction() as session:
        release_claims(session, first, "C1")
    with db.claim_transaction() as session:
        assert claim_call(session, "C1", second, LEASE_S) is None


def test_a_claim_whose_heartbeat_stopped_is_taken_over(db: Database) -> None:
    dead, alive = RunOwner(host="elsewhere", token="dead"), RunOwner(token="alive")
    with db.claim_transaction() as session:
        claim_call(session, "C1", dead, LEASE_S)
        session.get(CallClaim, "C1").heartbeat_at = utcnow() - timedelta(seconds=LEASE_S + 1)
    with db.claim_transaction() as session:
        assert claim_call(session, "C1", alive, LEASE_S) is None
    with db.session() as session:
        assert session.get(CallClaim, "C1").owner == alive.key


@pytest.mark.postgres
def test_on_postgresql_a_claim_being_taken_is_skipped_not_waited_for(backend: str, db: Database) -> None:
    if backend != "postgres":
        pytest.skip("row locks: PostgreSQL's (SQLite has one write lock for the whole file)")
    dead = RunOwner(host="elsewhere", token="dead")
    with db.claim_transaction() as session:
        claim_call(session, "C1", dead, LEASE_S)
        session.get(CallClaim, "C1").heartbeat_at = utcnow() - timedelta(seconds=LEASE_S + 1)
    first, second = RunOwner(token="first"), RunOwner(token="second")
    taking, answered = threading.Event(), threading.Event()

    def slow_takeover() -> None:
        with db.claim_transaction() as session:
            assert claim_call(session, "C1", first, LEASE_S) is None
            taking.set()
            answered.wait(30)  # the row stays locked until the other run has had its answer

    thread = threading.Thread(target=slow_takeover)
    thread.start()
    try:
        assert taking.wait(30)
        started = time.monotonic()
        with db.claim_transaction() as session:
            holder = claim_call(session, "C1", second, LEASE_S)
        waited = time.monotonic() - started
        answered.set()
    finally:
        answered.set()
        thread.join()
    # Busy (the dead claim, as last committed, is not this run's), at once: not a second takeover.
    assert holder is not None and holder.owner != second.key
    assert waited < 10
    with db.session() as session:
        assert session.get(CallClaim, "C1").owner == first.key
        assert session.scalar(select(func.count()).select_from(CallClaim)) == 1


@pytest.mark.postgres
def test_on_postgresql_claims_do_not_wait_for_a_run_storing_a_call(backend: str, db: Database) -> None:
    if backend != "postgres":
        pytest.skip("on SQLite every write takes the file's one write lock")
    storing, done = threading.Event(), threading.Event()

    def long_store() -> None:
        with db.transaction():  # a run storing a long call: holds the schema's write lock
            storing.set()
            done.wait(30)

    thread = threading.Thread(target=long_store)
    thread.start()
    try:
        assert storing.wait(30)
        started = time.monotonic()
        with db.claim_transaction() as session:
            assert claim_call(session, "C2", RunOwner(token="other"), LEASE_S) is None
        waited = time.monotonic() - started
    finally:
        done.set()
        thread.join()
    assert waited < 10
