"""What-if: a draft rulebook run over stored transcripts of a period, without saving, and the difference it makes.

    POST /api/rulebooks/preview?date_from=&date_to=   body: the YAML (application/yaml) → the difference
    POST /rulebook/preview                            {"yaml", "date_from", "date_to"} → {"job": id}
    GET  /rulebook/preview/{job_id}                   progress, then the same difference as "result"

The editor page (rulebook.html) has the draft in #rulebook-yaml, the period in #whatif-from and
#whatif-to and the button #preview-button; static/whatif.js starts the job and shows the result
in <section id="whatif">. The period is days in the center's calendar, both included; without
one, the last 30 days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from qcpipe.accounts import Permission
from qcpipe.periods import Period, PeriodError, days_period, zone
from qcpipe.pipeline.whatif import PreviewResult, preview
from qcpipe.scoring import Rulebook, RulebookError
from qcpipe.scoring.versions import check_draft, normalized
from qcpipe.store import Database
from qcpipe.store.models import utcnow
from qcpipe.web import jobs
from qcpipe.web.security import Identity, allow, enforce, identity

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
# Its JSON routes, listed in /api/openapi.json with the rest of the API.
api_router = APIRouter(dependencies=[Depends(enforce)], tags=["api"])
Who = Annotated[Identity, Depends(identity)]
PREVIEW = "preview"
DEFAULT_DAYS = 30  # the period previewed when none is given: the last 30 days
MAX_DRAFT_BYTES = 2_000_000  # a rulebook is tens of kilobytes; more is not a rulebook


class PreviewIn(BaseModel):
    """What the editor page sends to start a preview."""

    yaml: str = Field(max_length=MAX_DRAFT_BYTES, description="The draft rulebook's YAML.")
    date_from: date | None = Field(None, description="The first day previewed (center time); default 30 days ago.")
    date_to: date | None = Field(None, description="The last day previewed (included); default today.")


def _draft_refused(exc: RulebookError) -> JSONResponse:
    """A draft that does not load: 422, the message naming the line, as the editor's check says it."""
    return JSONResponse({"detail": str(exc), "error": {"message": str(exc), "line": exc.line, "cause": exc.cause}},
                        status_code=422)


def _period(request: Request, date_from: date | None, date_to: date | None) -> Period:
    timezone = request.app.state.settings.timezone
    today = utcnow().astimezone(zone(timezone)).date()
    until = date_to or today
    since = date_from or until - timedelta(days=DEFAULT_DAYS)
    if since > until:
        raise PeriodError(f"date_from {since} is after date_to {until}")
    return days_period(timezone, since=since, until=until)


def _work(request: Request, yaml_text: str, draft: Rulebook,
          period: Period) -> Callable[[jobs.Progress | None], PreviewResult]:
    """The preview, ready to run here or in a job (the request is not kept: a job outlives it)."""
    store: Database = request.app.state.store
    settings = request.app.state.settings

    def work(progress: jobs.Progress | None) -> PreviewResult:
        return preview(store, yaml_text, period, parsed=draft, pass_line=settings.pass_line,
                       rulebook_files=[settings.rules], progress=progress)

    return work


@api_router.post("/api/rulebooks/preview")
@allow(Permission.EDIT_RULES)
async def preview_api(
    request: Request, date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
) -> Response:
    """The body is the draft's YAML; the answer is the difference over the period (nothing saved)."""
    body = await request.body()
    if len(body) > MAX_DRAFT_BYTES:
        return JSONResponse({"detail": "the rulebook is too large"}, status_code=413)
    try:
        yaml_text = normalized(body.decode("utf-8"))
        period = _period(request, date_from, date_to)
        draft = await run_in_threadpool(check_draft, yaml_text)
    except UnicodeDecodeError:
        return JSONResponse({"detail": "the rulebook is not UTF-8 text"}, status_code=400)
    except PeriodError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    except RulebookError as exc:
        return _draft_refused(exc)
    result = await run_in_threadpool(_work(request, yaml_text, draft, period), None)
    return JSONResponse(result.as_json())


@router.post("/rulebook/preview")
@allow(Permission.EDIT_RULES)
async def start_preview(request: Request, who: Who) -> Response:
    """Start a preview in the background (JSON or form body); the page polls its progress."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            raw: Any = await request.json()
        except ValueError:
            return JSONResponse({"detail": "the body is not JSON"}, status_code=400)
    else:
        form = await request.form()
        raw = {key: value for key, value in form.items() if key in PreviewIn.model_fields and value != ""}
    try:
        asked = PreviewIn.model_validate(raw)
        period = _period(request, asked.date_from, asked.date_to)
        yaml_text = normalized(asked.yaml)
        draft = await run_in_threadpool(check_draft, yaml_text)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": f"bad request: {where}"}, status_code=422)
    except PeriodError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    except RulebookError as exc:
        return _draft_refused(exc)
    job = jobs.start(PREVIEW, who.viewer.username, _work(request, yaml_text, draft, period))
    return JSONResponse({"job": job.id}, status_code=202)


@router.get("/rulebook/preview/{job_id}")
@allow(Permission.EDIT_RULES)
def preview_progress(job_id: str, who: Who) -> Response:
    """The job's state and progress (done of total calls); when done, the difference as "result"."""
    job = jobs.get(job_id, who.viewer.username)  # another person's job answers 404
    if job.kind != PREVIEW:
        return JSONResponse({"detail": f"no such preview: {job_id}"}, status_code=404)
    body: dict[str, Any] = job.as_json()
    body["result"] = job.result.as_json() if isinstance(job.result, PreviewResult) else None
    return JSONResponse(body)
