"""Trainers' library: findings worst first, playable in place, marked as training examples, built into packs.

The listing, the marks and the clips are `qcpipe.reports.training`; a pack is exactly what
`qcpipe examples` writes for the same query (`write_examples` into a temporary folder, zipped).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from qcpipe.accounts import Permission
from qcpipe.audit import record
from qcpipe.errors import AudioError, NotFoundError
from qcpipe.periods import zone
from qcpipe.reports.examples import SEVERITIES, ExampleQuery, ExamplesError, write_examples
from qcpipe.reports.training import PAGE_SIZE, finding_clip, library_choices, library_page, mark_example, unmark_example
from qcpipe.scoring import active_rulebook
from qcpipe.store.models import utcnow
from qcpipe.web.render import render
from qcpipe.web.security import Identity, allow, enforce, identity

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
Who = Annotated[Identity, Depends(identity)]

PACK_LIMIT_MAX = 100
FILTER_KEYS = ("rule", "agent", "month", "severity", "marked")
SEVERITY_LABELS = {"critical": "严重 critical", "major": "较重 major", "minor": "一般 minor"}


@dataclass(frozen=True)
class LibraryFilters:
    """The library's filters as the page and its forms carry them (empty: any)."""

    rule: str = ""
    agent: str = ""
    month: str = ""
    severity: str = ""
    marked: bool = False

    def query(self, limit: int = 10) -> ExampleQuery:
        return ExampleQuery(rule_id=self.rule or None, agent=self.agent or None, month=self.month or None, limit=limit,
                            severity=self.severity or None, marked_only=self.marked)

    def encoded(self) -> str:
        """The filters as a query string (without the empty ones)."""
        pairs = {"rule": self.rule, "agent": self.agent, "month": self.month, "severity": self.severity,
                 "marked": "1" if self.marked else ""}
        return urlencode({key: value for key, value in pairs.items() if value})


def _filters(rule: str | None, agent: str | None, month: str | None, severity: str | None,
             marked: str | None) -> LibraryFilters:
    return LibraryFilters((rule or "").strip(), (agent or "").strip(), (month or "").strip(), (severity or "").strip(),
                          (marked or "") not in ("", "0", "false", "off"))


def _back(filters_query: str, anchor: str = "") -> RedirectResponse:
    """Back to the library with the filters it was on (only the library's own keys kept)."""
    kept = [(key, value) for key, value in parse_qsl(filters_query) if key in (*FILTER_KEYS, "page")]
    return RedirectResponse("/library" + (f"?{urlencode(kept)}" if kept else "") + anchor, status_code=303)


def _rule_titles(request: Request, session: Session) -> dict[str, str]:
    """The checks of the rulebook in force (the newest published version, else the settings'
    file), id → title, in its order."""
    return active_rulebook(session, request.app.state.settings.rules).rulebook.titles


@router.get("/library")
@allow(Permission.TRAIN)
def library(
    request: Request, who: Who, rule: str | None = None, agent: str | None = None, month: str | None = None,
    severity: str | None = None, marked: str | None = None, page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    settings = request.app.state.settings
    filters = _filters(rule, agent, month, severity, marked)
    problem = None
    with request.app.state.store.session() as session:
        titles = _rule_titles(request, session)
        choices = library_choices(session, who.viewer, titles)
        try:
            listing = library_page(session, who.viewer, filters.query(), timezone=settings.timezone, known_rules=titles,
                                   privacy=settings.privacy, page=page, page_size=PAGE_SIZE)
        except ExamplesError as exc:
            listing, problem = None, str(exc)
    here = filters.encoded()
    return render(
        request, "library.html", status_code=400 if problem else 200, filters=filters, listing=listing, problem=problem, choices=choices, titles=titles,
        severities=SEVERITIES, severity_labels=SEVERITY_LABELS, here=here,
        here_page=urlencode([*parse_qsl(here), ("page", str(listing.page))]) if listing else here,
        pack_limit_max=PACK_LIMIT_MAX,
    )


@router.get("/library/findings/{finding_id}/clip")
@allow(Permission.TRAIN)
def finding_clip_audio(request: Request, who: Who, finding_id: int) -> Response:
    """The clip around the evidence, every channel, as the pack holds it (audio/wav)."""
    with request.app.state.store.session() as session:
        try:
            wav = finding_clip(session, who.viewer, finding_id)
        except AudioError as exc:  # moved or deleted since: not found, as the call page says
            raise NotFoundError(f"the clip of finding {finding_id} cannot be made: {exc}") from None
    return Response(wav, media_type="audio/wav", headers={
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": f'inline; filename="finding-{finding_id}.wav"',
    })


@router.post("/library/findings/{finding_id}/mark")
@allow(Permission.TRAIN)
def mark_form(request: Request, who: Who, finding_id: int, note: Annotated[str, Form()] = "",
              back: Annotated[str, Form()] = "") -> Response:
    with request.app.state.store.transaction() as session:
        mark_example(session, who.viewer, finding_id, note, utcnow())
    return _back(back, f"#finding-{finding_id}")


@router.post("/library/findings/{finding_id}/unmark")
@allow(Permission.TRAIN)
def unmark_form(request: Request, who: Who, finding_id: int, back: Annotated[str, Form()] = "") -> Response:
    with request.app.state.store.transaction() as session:
        unmark_example(session, who.viewer, finding_id, utcnow())
    return _back(back, f"#finding-{finding_id}")


@router.post("/library/pack")
@allow(Permission.TRAIN)
def pack(
    request: Request, who: Who, rule: Annotated[str, Form()] = "", agent: Annotated[str, Form()] = "",
    month: Annotated[str, Form()] = "", severity: Annotated[str, Form()] = "", marked: Annotated[str, Form()] = "",
    which: Annotated[str, Form()] = "filters", limit: Annotated[int, Form(ge=1, le=PACK_LIMIT_MAX)] = 20,
) -> Response:
    """The pack `qcpipe examples` writes for the same query, as a zip: the clips, their excerpts,
    index.csv and index.html. which: "filters" (the page's filters) or "marked" (every marked example)."""
    settings = request.app.state.settings
    filters = LibraryFilters(marked=True) if which == "marked" else _filters(rule, agent, month, severity, marked)
    query = filters.query(limit)
    folder = Path(tempfile.mkdtemp(prefix="qcpipe-pack-"))
    try:
        with request.app.state.store.session() as session:
            written = write_examples(session, query, folder / "pack", timezone=settings.timezone,
                                     privacy=settings.privacy, known_rules=_rule_titles(request, session),
                                     scope=who.viewer.call_scope())
        archive = folder / "pack.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(written.folder.iterdir()):
                # WAV hardly deflates: stored as is, the zip is made at disk speed.
                bundle.write(path, path.name, zipfile.ZIP_STORED if path.suffix == ".wav" else zipfile.ZIP_DEFLATED)
        with request.app.state.store.transaction() as session:
            record(session, who.viewer.username, "training.pack", "library", filters.encoded() or "all",
                   f"{len(written.examples)} examples, {len(written.skipped)} skipped")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    stamp = datetime.now(zone(settings.timezone)).strftime("%Y%m%d-%H%M")
    name = f"training-pack-{'marked' if filters.marked else (filters.rule or 'all')}-{stamp}.zip"
    return FileResponse(archive, media_type="application/zip", filename=name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
