"""The web workspace for monitors, agents, team leaders, trainers and QA leads.

`create_app(settings)` builds the FastAPI app; `qcpipe serve` runs it. The web layer parses
requests and renders; behaviour lives in the services the CLI calls (calls/, review/, accounts/).
"""

from qcpipe.web.app import create_app

__all__ = ["create_app"]
