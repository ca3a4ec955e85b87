"""QA lead and admin: calibration per check, the audit log, the nightly job's runs and failed calls."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from qcpipe.web.security import enforce

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
