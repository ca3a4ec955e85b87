"""The rulebook editor: the active checks, the YAML to edit and validate, a sentence to try, publishing versions."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from qcpipe.accounts import Permission
from qcpipe.asr.types import Role
from qcpipe.errors import NotFoundError, QcpipeError, StoreError
from qcpipe.periods import zone
from qcpipe.pipeline.scoring import score_stored_calls
from qcpipe.scoring import RulebookError, explain
from qcpipe.scoring.explain import SentenceReading, TakenBackPhrase
from qcpipe.scoring.overview import check_overview
from qcpipe.scoring.versions import (
    RulebookConflict,
    active_rulebook,
    check_draft,
    get_version,
    list_versions,
    publish,
    version_rulebook,
    yaml_diff,
)
from qcpipe.store import Database
from qcpipe.store.models import utcnow
from qcpipe.web import jobs
from qcpipe.web.monthly import FLAG_TITLES
from qcpipe.web.render import render
from qcpipe.web.security import Identity, allow, enforce, identity

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
Who = Annotated[Identity, Depends(identity)]
WHATIF_DAYS = 30  # the what-if preview's default period: the last 30 days
RESCORE = "rescore"
MAX_DRAFT_CHARS = 2_000_000  # a rulebook is tens of kilobytes; more is not a rulebook

# One re-scoring at a time: each takes the rulebook in force when it starts, so after two quick
# publishes the calls end up scored by the newer one, whichever job started first.
_rescore_lock = threading.Lock()


def _store(request: Request) -> Database:
    return request.app.state.store


# --- the JSON the page's script exchanges ----------------------------------------------------------


class DraftIn(BaseModel):
    yaml: str = Field(max_length=MAX_DRAFT_CHARS, description="The rulebook YAML as edited.")


class SentenceIn(DraftIn):
    text: str = Field(min_length=1, max_length=2000, description="A sentence as ASR heard it.")
    role: Role = Role.AGENT


class CheckOut(BaseModel):
    id: str
    title: str
    kind: str
    deduction: float
    severity: str
    veto: bool
    line: int


class DraftError(BaseModel):
    """Why the draft does not load: `message` as `qcpipe rules check` says it, `line` where known."""

    message: str
    line: int | None
    cause: str


class CheckResult(BaseModel):
    ok: bool
    content_hash: str | None = None
    checks: list[CheckOut] = []
    error: DraftError | None = None


class MatchOut(BaseModel):
    rule_id: str
    phrase_list: str
    phrase: str
    wording: str
    match_kind: str
    score: float
    quote: str
    counts: bool
    listens_to: str


class NearMissOut(BaseModel):
    rule_id: str
    phrase_list: str
    phrase: str
    score: float


class TryResult(BaseModel):
    ok: bool
    threshold: float | None = None
    matches: list[MatchOut] = []
    near_misses: list[NearMissOut] = []
    taken_back: list[TakenBackPhrase] = []
    readings: list[SentenceReading] = []
    error: DraftError | None = None


@dataclass(frozen=True)
class RescoreResult:
    """What a re-scoring job did: the version it scored with, calls and findings."""

    version: int | None
    content_hash: str
    calls: int
    findings: int
    wall_s: float


def _draft_error(exc: RulebookError) -> DraftError:
    return DraftError(message=str(exc), line=exc.line, cause=exc.cause)


# --- the editor ------------------------------------------------------------------------------------


def _editor(request: Request, who: Identity, *, draft: str | None = None, base_number: int | None = None,
            error: str | None = None, error_line: int | None = None, status_code: int = 200,
            job: jobs.Job | None = None, published: int | None = None) -> Response:
    settings = request.app.state.settings
    with _store(request).session() as session:
        active = active_rulebook(session, settings.rules)
    today = utcnow().astimezone(zone(settings.timezone)).date()
    return render(
        request, "rulebook.html", status_code=status_code, active=active, checks=check_overview(active.yaml),
        draft=active.yaml if draft is None else draft, base_number=active.number if base_number is None else base_number,
        error=error, error_line=error_line, job=job, published=published,
        whatif_from=(today - timedelta(days=WHATIF_DAYS)).isoformat(), whatif_to=today.isoformat(),
        flag_titles={str(flag): title for flag, title in FLAG_TITLES.items()},
    )


@router.get("/rulebook")
@allow(Permission.EDIT_RULES)
def rulebook_page(request: Request, who: Who, job: str | None = None, published: int | None = None) -> Response:
    running = None
    if job:
        try:
            running = jobs.get(job, who.viewer.username)
        except NotFoundError:
            running = None  # forgotten since (an hour after it ended), or another person's: nothing to show
    return _editor(request, who, job=running, published=published)


@router.post("/rulebook/check")
@allow(Permission.EDIT_RULES)
def check_rulebook(body: DraftIn) -> CheckResult:
    try:
        rulebook = check_draft(body.yaml)
    except RulebookError as exc:
        return CheckResult(ok=False, error=_draft_error(exc))
    checks = [CheckOut(id=r.id, title=r.title, kind=r.kind, deduction=r.deduction, severity=r.severity, veto=r.veto,
                       line=r.line) for r in rulebook.rules]
    return CheckResult(ok=True, content_hash=rulebook.content_hash, checks=checks)


@router.post("/rulebook/try")
@allow(Permission.EDIT_RULES)
def try_sentence(body: SentenceIn) -> TryResult:
    try:
        rulebook = check_draft(body.yaml)
    except RulebookError as exc:
        return TryResult(ok=False, error=_draft_error(exc))
    result = explain(rulebook, body.text, body.role)
    matches = [MatchOut(rule_id=m.rule_id, phrase_list=m.phrase_list, phrase=m.phrase, wording=m.wording,
                        match_kind=m.match_kind.value, score=m.score, quote=m.quote, counts=m.counts,
                        listens_to=str(m.listens_to)) for m in result.matches]
    near = [NearMissOut(**asdict(n)) for n in result.near_misses]
    return TryResult(ok=True, threshold=result.threshold, matches=matches, near_misses=near,
                     taken_back=list(result.taken_back), readings=list(result.readings))


@router.post("/rulebook/publish")
@allow(Permission.EDIT_RULES)
def publish_rulebook(
    request: Request, who: Who, yaml: Annotated[str, Form(max_length=MAX_DRAFT_CHARS)],
    base_number: Annotated[int, Form()], comment: Annotated[str, Form()] = "",
) -> Response:
    settings = request.app.state.settings
    store = _store(request)
    try:
        with store.transaction() as session:
            info = publish(session, yaml, who.viewer.username, comment, utcnow(), base_number, file=settings.rules)
    except StoreError:
        raise
    except QcpipeError as exc:
        line = exc.line if isinstance(exc, RulebookError) else None
        status = 409 if isinstance(exc, RulebookConflict) else 400
        return _editor(request, who, draft=yaml, base_number=base_number, error=str(exc), error_line=line,
                       status_code=status)
    job = jobs.start(RESCORE, who.viewer.username, lambda progress: rescore(store, settings.rules, progress))
    return RedirectResponse(f"/rulebook?published={info.number}&job={job.id}", status_code=303)


def rescore(store: Database, file: Any, progress: jobs.Progress) -> RescoreResult:
    """Re-score the stored calls with the rulebook in force, as `qcpipe score` does (reviewed
    findings keep their decisions)."""
    with _rescore_lock:
        with store.session() as session:
            active = active_rulebook(session, file)
        summary = score_stored_calls(store, active.rulebook, progress=progress)
    return RescoreResult(version=active.version.number if active.version else None,
                         content_hash=active.rulebook.content_hash, calls=summary.calls, findings=summary.findings,
                         wall_s=round(summary.wall_s, 2))


@router.get("/rulebook/jobs/{job_id}")
@allow(Permission.EDIT_RULES)
def rescore_progress(job_id: str, who: Who) -> Response:
    try:
        job = jobs.get(job_id, who.viewer.username)
    except NotFoundError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    body: dict[str, Any] = job.as_json()
    body["result"] = asdict(job.result) if isinstance(job.result, RescoreResult) else None
    return JSONResponse(body)


# --- versions --------------------------------------------------------------------------------------


@router.get("/rulebook/versions")
@allow(Permission.EDIT_RULES)
def versions_page(request: Request, who: Who) -> Response:
    with _store(request).session() as session:
        published = list_versions(session)
    return render(request, "rulebook_versions.html", versions=published,
                  file=request.app.state.settings.rules)


@router.get("/rulebook/versions/{number}")
@allow(Permission.EDIT_RULES)
def version_page(request: Request, who: Who, number: int) -> Response:
    with _store(request).session() as session:
        version = get_version(session, number)
        previous = get_version(session, number - 1) if number > 1 else None
        newest = max((v.number for v in list_versions(session)), default=0)
    rulebook = version_rulebook(version)
    diff = yaml_diff(previous.yaml, version.yaml, f"version {number - 1}", f"version {number}") if previous else []
    return render(request, "rulebook_version.html", version=version, rulebook=rulebook,
                  checks=check_overview(version.yaml), previous=previous, diff=diff, in_force=number == newest)
