"""The rulebook editor: the active checks, the YAML to edit and validate, a sentence to try, publishing versions."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from qcpipe.web.security import enforce

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
