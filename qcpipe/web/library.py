"""Trainers' library: findings worst first, playable in place, marked as training examples, built into packs."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from qcpipe.web.security import enforce

router = APIRouter(dependencies=[Depends(enforce)], include_in_schema=False)
