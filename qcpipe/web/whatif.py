"""What-if: a draft rulebook run over stored transcripts of a period, without saving, and the difference it makes."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from qcpipe.web.security import enforce

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
