"""Call claims: which running `qcpipe run` is working on which call, so that two runs sharing a
folder and a database never transcribe one call twice. Each function works inside the
caller's transaction."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from qcpipe.store.models import CallClaim, utcnow


@dataclass(frozen=True)
class RunOwner:
    """Who holds a claim: one `qcpipe run` process (host, pid, and a token per run)."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def key(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"[:200]


def claim_call(session: Session, call_id: str, owner: RunOwner, lease_s: float) -> CallClaim | None:
    """Claim `call_id` for `owner`. None when claimed; else the live claim of another run.

    A claim is dead, and taken over, when its heartbeat is older than `lease_s` or its
    process is gone from this host (killed runs leave their claims behind).
    """
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # Runs on several machines share one server: the claim row is locked while it is read
        # and taken over, and a row another run is taking right now is skipped, not waited for
        # (that run is busy with the call). Two runs can then never both take over one dead claim.
        claim = session.scalar(select(CallClaim).where(CallClaim.call_id == call_id)
                               .with_for_update(skip_locked=True))
        if claim is None:
            taken = session.scalar(select(CallClaim).where(CallClaim.call_id == call_id)
                                   .execution_options(populate_existing=True))
            if taken is not None:
                return taken
    else:  # SQLite: the run's write transaction holds the database's one write lock already
        claim = session.get(CallClaim, call_id)
    if claim is None:
        session.add(CallClaim(call_id=call_id, owner=owner.key, host=owner.host, pid=owner.pid,
                              claimed_at=now, heartbeat_at=now))
        session.flush()  # another database client claiming it at once fails here, not later
        return None
    if claim.owner == owner.key or _claim_is_dead(claim, now, lease_s):
        claim.owner, claim.host, claim.pid, claim.claimed_at, claim.heartbeat_at = (
            owner.key, owner.host, owner.pid, now, now)
        return None
    return claim


def release_claims(session: Session, owner: RunOwner, call_id: str | None = None) -> None:
    """Drop `owner`'s claim on `call_id`, or all its claims."""
    query = delete(CallClaim).where(CallClaim.owner == owner.key)
    if call_id is not None:
        query = query.where(CallClaim.call_id == call_id)
    session.execute(query)


def renew_claims(session: Session, owner: RunOwner) -> None:
    """The heartbeat: `owner` is alive and still working on what it claimed."""
    session.execute(update(CallClaim).where(CallClaim.owner == owner.key).values(heartbeat_at=utcnow()))


def _claim_is_dead(claim: CallClaim, now: datetime, lease_s: float) -> bool:
    if claim.heartbeat_at < now - timedelta(seconds=lease_s):
        return True
    if claim.host != socket.gethostname():
        return False
    try:
        os.kill(claim.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
