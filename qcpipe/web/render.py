"""Pages from templates: every page gets the person, their CSRF token and the navigation.

Jinja2 escapes everything it prints (autoescape): a transcript line holding `<script>` shows as
text. Times are shown in the center's time zone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from qcpipe.accounts import Permission
from qcpipe.periods import zone

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def _clock(seconds: float | None) -> str:
    """Seconds from the start of the recording as m:ss.s (times relative to the recording)."""
    if seconds is None:
        return ""
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:04.1f}"


templates.env.filters["clock"] = _clock
templates.env.globals["Permission"] = Permission


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    identity = getattr(request.state, "identity", None)
    settings = request.app.state.settings
    center = zone(settings.timezone)

    def local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return moment.astimezone(center).strftime(fmt) if moment else ""

    return templates.TemplateResponse(
        request, template,
        {"identity": identity, "viewer": identity.viewer if identity else None,
         "csrf_token": identity.csrf_token if identity else context.pop("csrf_token", ""), "local": local,
         "pass_line": settings.pass_line, **context},
        status_code=status_code,
    )


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {403: "不允许 · not allowed", 404: "找不到 · not found", 409: "已处理 · already decided",
              503: "暂不可用 · unavailable"}
    return render(request, "error.html", status_code=status, status=status,
                  title=titles.get(status, "出错了 · error"), message=message)
