"""QA lead and admin: calibration per check, the audit log, the nightly job's runs and failed calls."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from qcpipe import audit
from qcpipe.accounts import Permission
from qcpipe.calls.retry import failed_calls, mark_for_retry
from qcpipe.errors import QcpipeError
from qcpipe.periods import month_of, parse_month
from qcpipe.pipeline.runs import SILENT_AFTER_S, recent_runs
from qcpipe.review.precision import DEFAULT_MONTHS, overturned_findings, precision_by_month
from qcpipe.store.models import utcnow
from qcpipe.web.render import render
from qcpipe.web.security import Identity, allow, enforce, identity

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
Who = Annotated[Identity, Depends(identity)]


def _store(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.store


def _settings(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.settings


def _month(request: Request, month: str | None) -> str:
    """The month asked for, or this month in the center's calendar."""
    return parse_month(month) if month else month_of(utcnow(), _settings(request).timezone)


# --- calibration -------------------------------------------------------------------------------


@router.get("/calibration")
@allow(Permission.CALIBRATE)
def calibration_page(request: Request, month: str | None = None,
                     months: Annotated[int, Query(ge=1, le=24)] = DEFAULT_MONTHS) -> Response:
    shown = _month(request, month)
    with _store(request).session() as session:
        table = precision_by_month(session, shown, months=months, timezone=_settings(request).timezone)
    return render(request, "calibration.html", table=table, months=months)


@router.get("/calibration/{rule_id}")
@allow(Permission.CALIBRATE)
def calibration_check_page(request: Request, rule_id: str, month: str | None = None,
                           months: Annotated[int, Query(ge=1, le=24)] = 1) -> Response:
    shown = _month(request, month)
    settings = _settings(request)
    with _store(request).session() as session:
        table = precision_by_month(session, shown, months=months, timezone=settings.timezone)
        overturned = overturned_findings(session, rule_id, shown, months=months, timezone=settings.timezone,
                                         privacy=settings.privacy)
    check = next((c for c in table.checks if c.rule_id == rule_id), None)
    return render(request, "calibration_check.html", rule_id=rule_id, check=check, table=table,
                  overturned=overturned, months=months)


# --- the audit log -----------------------------------------------------------------------------


def _audit_filters(actor: str | None, action: str | None, object: str | None, date_from: str | None,
                   date_to: str | None) -> audit.AuditFilters:
    return audit.AuditFilters(actor=(actor or "").strip() or None, action=(action or "").strip() or None,
                              object=(object or "").strip() or None, date_from=_day(date_from), date_to=_day(date_to))


def _day(text: str | None) -> date | None:
    """A date field of the filter form: left empty, the browser still sends it (as "")."""
    if not text or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise QcpipeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


@router.get("/audit")
@allow(Permission.SEE_AUDIT)
def audit_page(
    request: Request, actor: str | None = None, action: str | None = None, object: str | None = None,
    date_from: str | None = None, date_to: str | None = None, page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    filters = _audit_filters(actor, action, object, date_from, date_to)
    with _store(request).session() as session:
        listing = audit.events(session, filters, timezone=_settings(request).timezone, page=page)
    query = urlencode({k: v for k, v in request.query_params.items() if k != "page" and v})
    return render(request, "audit.html", listing=listing, filters=filters, query=query)


@router.get("/audit.csv")
@allow(Permission.SEE_AUDIT)
def audit_csv(
    request: Request, actor: str | None = None, action: str | None = None, object: str | None = None,
    date_from: str | None = None, date_to: str | None = None,
) -> Response:
    filters = _audit_filters(actor, action, object, date_from, date_to)
    store, timezone = _store(request), _settings(request).timezone

    def chunks():  # type: ignore[no-untyped-def]
        with store.session() as session:  # its own session: the rows are read while the answer is sent
            for chunk in audit.csv_chunks(session, filters, timezone=timezone):
                yield chunk.encode("utf-8")

    name = f"audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- the nightly job ---------------------------------------------------------------------------


@router.get("/jobs")
@allow(Permission.SEE_JOBS)
def jobs_page(
    request: Request, page: Annotated[int, Query(ge=1)] = 1, failed_page: Annotated[int, Query(ge=1)] = 1,
    marked: int | None = None,
) -> Response:
    with _store(request).session() as session:
        runs = recent_runs(session, now=utcnow(), page=page)
        failed = failed_calls(session, page=failed_page)
    return render(request, "jobs.html", runs=runs, failed=failed, marked=marked,
                  silent_min=int(SILENT_AFTER_S // 60))


@router.post("/jobs/retry")
@allow(Permission.RETRY_CALLS)
def retry_calls_form(request: Request, who: Who, call_ids: Annotated[list[str], Form()]) -> Response:
    with _store(request).transaction() as session:
        marked = mark_for_retry(session, call_ids, by=who.viewer.username, now=utcnow())
    return RedirectResponse(f"/jobs?marked={len(marked)}#failed", status_code=303)
