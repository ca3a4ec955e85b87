"""Team leaders and agents: the monthly report page and JSON, the heatmap, agents' scorecards (/me, /agents/{id})."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from qcpipe.web.security import enforce

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
