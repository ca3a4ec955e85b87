"""Accounts and permissions of the web workspace.

Public surface: `add_user`, `list_users`, `set_password`, `set_disabled`, `log_in`, `resume`,
`log_out` (service), `Permission`, `Viewer`, `ROLE_PERMISSIONS` (roles), `AccountError`.
"""

from qcpipe.accounts.roles import ROLE_PERMISSIONS, ROLE_TITLES, Permission, Viewer
from qcpipe.accounts.service import (
    AccountError,
    LiveSession,
    Login,
    UserRow,
    add_user,
    list_users,
    log_in,
    log_out,
    resume,
    set_disabled,
    set_password,
)

__all__ = [
    "ROLE_PERMISSIONS", "ROLE_TITLES", "AccountError", "LiveSession", "Login", "Permission", "UserRow", "Viewer", "add_user",
    "list_users", "log_in", "log_out", "resume", "set_disabled", "set_password",
]
