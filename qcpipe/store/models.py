"""The database tables, as SQLAlchemy 2 typed ORM classes.

    CallClaim                                   (a call a running batch is working on)
    Team 1─* Agent 1─* Call 1─* Segment        (what was said, by whom, when)
                             1─* SpeechRegion   (each channel's voice-activity timeline)
                             1─* FindingRecord  (a QA deduction with its evidence)
                                    1─* FindingReview  (a monitor's confirm/overturn, history kept)
                                    1─* Appeal         (an agent's appeal and the final ruling)
                             1─1 ReviewAssignment (which monitor is to review the call)
    User 1─* WebSession                         (the web workspace's accounts and logins)
    LoginFailure                                (failed logins per name, for throttling)
    AuditEvent                                  (who did what, when: append-only)
    RulebookVersion                             (each published rulebook: YAML, who, when, why)
    TrainingExample                             (a finding a trainer marked for role-play)
    BatchRun                                    (one run of the nightly job and its counts)

Times inside a call are seconds from the start of the recording. Wall-clock times are
stored in UTC and shown in the center's time zone.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend: stored as naive UTC, read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: qcpipe stores aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


_ENCODED_PATH = "file://"


def stored_path(path: Path) -> str:
    """A recording's absolute path as text the database can hold and give back exactly.

    A path that is valid UTF-8 is stored as it is; one with other bytes in its name (GBK names
    on a share) is stored as a percent-encoded file:// URL, which `Call.recording_path` decodes.
    """
    absolute = os.path.realpath(path)  # never raises, even on a symlink loop
    try:
        absolute.encode("utf-8")
        return absolute
    except UnicodeEncodeError:
        return _ENCODED_PATH + quote(os.fsencode(absolute))


class Base(DeclarativeBase):
    pass


class CallStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)

    agents: Mapped[list[Agent]] = relationship(back_populates="team")


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, doc="the agent id the CTI system uses (工号)")
    name: Mapped[str | None] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))

    team: Mapped[Team | None] = relationship(back_populates="agents")
    calls: Mapped[list[Call]] = relationship(back_populates="agent")


class Call(Base):
    """One recording and the outcome of processing it (done, or failed with the reason)."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_agent_started", "agent_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128), unique=True, doc="the CTI call id, or the file stem")
    audio_path: Mapped[str] = mapped_column(Text, doc="absolute path; file://… percent-encoded if not UTF-8")
    content_hash: Mapped[str | None] = mapped_column(String(64), doc="sha256 of the audio file")
    status: Mapped[CallStatus] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text)

    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    queue_wait_s: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, doc="manifest columns qcpipe does not know")

    duration_s: Mapped[float | None] = mapped_column(Float)
    channels: Mapped[int | None] = mapped_column(Integer)
    source_rate: Mapped[int | None] = mapped_column(Integer)
    roles_known: Mapped[bool | None] = mapped_column(doc="false for mono: agent and customer cannot be told apart")

    model: Mapped[str | None] = mapped_column(String(256))
    asr_fingerprint: Mapped[str | None] = mapped_column(String(32), doc="AsrOptions.fingerprint(): same value = same recognition")
    asr_options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decode_s: Mapped[float | None] = mapped_column(Float)
    asr_s: Mapped[float | None] = mapped_column(Float)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    qa_score: Mapped[float | None] = mapped_column(Float, doc="100 − deductions (floor 0, veto → 0)")
    scored_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rulebook_hash: Mapped[str | None] = mapped_column(String(64))
    retry_requested_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, doc="an admin asked for this failed call to be tried again by the next run")
    retry_requested_by: Mapped[str | None] = mapped_column(String(64))
    not_applicable: Mapped[list[list[str]] | None] = mapped_column(JSON, doc="[[rule_id, reason], …]")
    checks_applied: Mapped[list[str] | None] = mapped_column(
        JSON, doc="rule ids that concerned this call (condition held, trigger happened): compliance denominators"
    )

    agent: Mapped[Agent | None] = relationship(back_populates="calls")

    @property
    def recording_path(self) -> Path:
        """The recording's path, to open it again (see `stored_path`)."""
        if self.audio_path.startswith(_ENCODED_PATH):
            return Path(os.fsdecode(unquote_to_bytes(self.audio_path[len(_ENCODED_PATH):])))
        return Path(self.audio_path)

    findings: Mapped[list[FindingRecord]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="FindingRecord.start_s"
    )
    segments: Mapped[list[Segment]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="Segment.start_s"
    )
    speech: Mapped[list[SpeechRegion]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="SpeechRegion.start_s"
    )
    unheard: Mapped[list[UnheardSpan]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="UnheardSpan.start_s"
    )


# The worklist's order (worst score first, unscored last, then newest), so that a page is read
# from the index rather than by sorting every matching call.
Index("ix_calls_worklist", Call.status, Call.qa_score.is_(None), Call.qa_score, Call.started_at.desc(), Call.call_id)


class CallClaim(Base):
    """A call one `qcpipe run` is transcribing now, so that a second run on the same folder
    and database leaves it alone. Deleted in the transaction that stores the call. A claim
    whose run died (kill -9, power cut) is taken over: at once when its process is gone from
    this host, else once its heartbeat is older than the lease."""

    __tablename__ = "call_claims"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True, doc="host:pid:token of the run")
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Segment(Base):
    """One utterance: the text a rule quotes, the speaker, the span, and per-word timings."""

    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_call_start", "call_pk", "start_s"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    channel: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float, doc="mean word probability, 0–1")
    words: Mapped[list[list[Any]]] = mapped_column(JSON, doc="[[text, start, end, probability], …]")

    call: Mapped[Call] = relationship(back_populates="segments")


class _ChannelSpan:
    """Columns of a stretch of time on one channel of a call."""

    id: Mapped[int] = mapped_column(primary_key=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    channel: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)


class SpeechRegion(_ChannelSpan, Base):
    """A stretch of voice activity on one channel; silence, overlap and loudness checks read these."""

    __tablename__ = "speech_regions"
    __table_args__ = (Index("ix_speech_call_start", "call_pk", "start_s"),)

    level_db: Mapped[float | None] = mapped_column(
        Float, doc="dBFS of the region's voiced frames; null for calls transcribed before levels were measured")

    call: Mapped[Call] = relationship(back_populates="speech")


class UnheardSpan(_ChannelSpan, Base):
    """Voiced time of one party that no word could be recognised in: a check for a phrase that
    may have been said there is not applicable, and a call with many is a recording problem."""

    __tablename__ = "unheard_spans"
    __table_args__ = (Index("ix_unheard_call_start", "call_pk", "start_s"),)

    call: Mapped[Call] = relationship(back_populates="unheard")


class FindingStatus(StrEnum):
    """open: deducts until a monitor rules. uncertain: the evidence for a missing phrase was
    heard too poorly to be sure (`FindingRecord.doubt`); deducts nothing until confirmed.
    noted: an observation, the finding of a check that deducts nothing (`deduction: 0`): it is
    shown with the call and exported, but costs nothing and waits for no monitor."""

    OPEN = "open"
    UNCERTAIN = "uncertain"
    CONFIRMED = "confirmed"
    OVERTURNED = "overturned"
    NOTED = "noted"


class FindingRecord(Base):
    """A QA deduction and the evidence for it: who said (or failed to say) what, and when."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_rule_status", "rule_id", "status"),
        Index("ix_findings_call_status_rule", "call_pk", "status", "rule_id"),  # the worklist's EXISTS
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    deduction: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    veto: Mapped[bool]
    speaker: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    quote: Mapped[str] = mapped_column(Text)
    phrase: Mapped[str] = mapped_column(Text, doc="the rulebook phrase said, or missing")
    wording: Mapped[str] = mapped_column(Text, doc="the wording of that phrase that matched")
    match_kind: Mapped[str] = mapped_column(String(16), doc="exact, char, pinyin or absent")
    match_score: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    doubt: Mapped[str | None] = mapped_column(Text, doc="why the evidence is doubtful (made the finding uncertain)")
    rulebook_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[FindingStatus] = mapped_column(String(16), default=FindingStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Bumped by every change of the row: two monitors deciding the same finding at once cannot
    # both win (the second UPDATE matches no row), and a decision made on a stale page is refused.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    call: Mapped[Call] = relationship(back_populates="findings")
    reviews: Mapped[list[FindingReview]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="FindingReview.id"
    )
    appeals: Mapped[list[Appeal]] = relationship(
        back_populates="finding", cascade="all, delete-orphan", order_by="Appeal.id"
    )


class ReviewDecision(StrEnum):
    CONFIRM = "confirm"
    OVERTURN = "overturn"


class FindingReview(Base):
    """One decision of a quality monitor on a finding. Never updated: a re-review adds a row."""

    __tablename__ = "finding_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    decision: Mapped[ReviewDecision] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), doc="set when this is an appeal ruling")

    finding: Mapped[FindingRecord] = relationship(back_populates="reviews")


class AppealStatus(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"  # the agent was right: the finding is overturned
    REJECTED = "rejected"  # the finding stands, confirmed


class Appeal(Base):
    """An agent's appeal against a finding; the monitor's ruling on it is final."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    agent: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[AppealStatus] = mapped_column(String(16), default=AppealStatus.PENDING)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_comment: Mapped[str | None] = mapped_column(Text)

    finding: Mapped[FindingRecord] = relationship(back_populates="appeals")


class ReviewAssignment(Base):
    """A call a QA lead gave a monitor to review: flagged by the machine, or sampled from the
    unflagged calls so that the machine's misses are found too. One monitor per call."""

    __tablename__ = "review_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    monitor: Mapped[str] = mapped_column(String(64), index=True, doc="the monitor's user name")
    reason: Mapped[str] = mapped_column(String(16), doc="flagged or sample")
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, doc="when the monitor finished the call")

    call: Mapped[Call] = relationship()


class UserRole(StrEnum):
    ADMIN = "admin"
    QA_LEAD = "qa_lead"
    MONITOR = "monitor"
    TEAM_LEADER = "team_leader"
    TRAINER = "trainer"
    AGENT = "agent"


class User(Base):
    """A person who logs in to the web workspace. The password is kept only as an argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[UserRole] = mapped_column(String(16))
    agent_code: Mapped[str | None] = mapped_column(String(64), doc="an agent's 工号: whose calls are theirs")
    team: Mapped[str | None] = mapped_column(String(100), doc="a team leader's team")
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    sessions: Mapped[list[WebSession]] = relationship(back_populates="user", cascade="all, delete-orphan")


class WebSession(Base):
    """A logged-in browser. The cookie holds a random token; only its sha256 is stored, so a
    copy of the database opens no session."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="sessions")


class LoginFailure(Base):
    """Failed logins for a name (known or not, so that throttling tells nothing about which
    names exist); the row goes when a login succeeds."""

    __tablename__ = "login_failures"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditEvent(Base):
    """One thing a person did (a review, an appeal, a ruling, an assignment, a user change, a
    login or failed login). Rows are only ever added."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(128))
    detail: Mapped[str] = mapped_column(Text, default="")


class RulebookVersion(Base):
    """A published rulebook. The newest is the active one; earlier ones are kept to be read, and
    every finding keeps the `rulebook_hash` of the version that made it."""

    __tablename__ = "rulebook_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True, doc="1, 2, 3 … in the order published")
    yaml: Mapped[str] = mapped_column(Text, doc="the rulebook as the QA lead wrote it")
    content_hash: Mapped[str] = mapped_column(String(64), index=True, doc="Rulebook.content_hash of the YAML")
    comment: Mapped[str] = mapped_column(Text, default="")
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TrainingExample(Base):
    """A finding a trainer marked as an example to train with, and why."""

    __tablename__ = "training_examples"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    marked_by: Mapped[str] = mapped_column(String(64))
    marked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    finding: Mapped[FindingRecord] = relationship()


class BatchRunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"  # ended by an error or a signal before its work was done


class BatchRun(Base):
    """One run of the nightly job (`qcpipe run`): where, when, and what came of it."""

    __tablename__ = "batch_runs"
    __table_args__ = (Index("ix_batch_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text, doc="the folder or file the run was given")
    host: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[BatchRunStatus] = mapped_column(String(16), default=BatchRunStatus.RUNNING)
    calls_done: Mapped[int] = mapped_column(Integer, default=0)
    calls_skipped: Mapped[int] = mapped_column(Integer, default=0)
    calls_failed: Mapped[int] = mapped_column(Integer, default=0)
    audio_s: Mapped[float] = mapped_column(Float, default=0.0, doc="seconds of audio transcribed")
    wall_s: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, doc="why the run stopped early")
