"""Call claims: two runs never take one call, and a dead run's claims are taken over once.
On each database; on PostgreSQL with two transactions open at once."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
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


@contextmanager
def held_open(begin, work=lambda session: None):
    """`work` done in a transaction (`begin()`) of another thread, which stays open, its locks
    held, for the length of the with-block."""
    begun, done = threading.Event(), threading.Event()

    def hold() -> None:
        with begin() as session:
            work(session)
            begun.set()
            done.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert begun.wait(30), "the other transaction did not begin"
        yield
    finally:
        done.set()
        thread.join()


def claimed_in(db: Database, call_id: str, owner: RunOwner) -> tuple[CallClaim | None, float]:
    """Claim `call_id` for `owner` in a claim transaction: (the claim that holds it, if not
    this run's; seconds it took)."""
    started = time.monotonic()
    with db.claim_transaction() as session:
        holder = claim_call(session, call_id, owner, LEASE_S)
    return holder, time.monotonic() - started


@pytest.mark.postgres
def test_on_postgresql_a_claim_being_taken_is_skipped_not_waited_for(backend: str, db: Database) -> None:
    if backend != "postgres":
        pytest.skip("row locks: PostgreSQL's (SQLite has one write lock for the whole file)")
    dead = RunOwner(host="elsewhere", token="dead")
    with db.claim_transaction() as session:
        claim_call(session, "C1", dead, LEASE_S)
        session.get(CallClaim, "C1").heartbeat_at = utcnow() - timedelta(seconds=LEASE_S + 1)
    first, second = RunOwner(token="first"), RunOwner(token="second")
    with held_open(db.claim_transaction, lambda session: claim_call(session, "C1", first, LEASE_S)):
        holder, waited = claimed_in(db, "C1", second)
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
    with held_open(db.transaction):  # a run storing a long call: holds the schema's write lock
        holder, waited = claimed_in(db, "C2", RunOwner(token="other"))
    assert holder is None and waited < 10
