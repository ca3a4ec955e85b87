"""The `qcpipe` command run as a user runs it: its own process, its own home; or, where a test
runs many commands, the same entry point (`qcpipe.cli.main`) in this process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from qcpipe.cli import main


def _environment(home: Path, env: dict[str, str] | None) -> dict[str, str]:
    environment = {**os.environ, "QCPIPE_HOME": str(home), "COLUMNS": "200"}
    environment.pop("QCPIPE_DB", None)
    environment.update(env or {})
    return environment


def _checked(args: tuple[str, ...], result: subprocess.CompletedProcess[str], check: bool) -> subprocess.CompletedProcess[str]:
    if check and result.returncode != 0:
        raise AssertionError(f"qcpipe {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def qcpipe(
    *args: str, home: Path, check: bool = True, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `qcpipe` command as a user would, in its own process, with QCPIPE_HOME=home.

    $QCPIPE_DB of the test run is dropped; `env` (e.g. QCPIPE_CONFIG, QCPIPE_DB) is set over the rest.
    input: its standard input (e.g. a password for --password-stdin); else none.
    """
    result = subprocess.run(
        [sys.executable, "-m", "qcpipe", *args], capture_output=True, text=True, env=_environment(home, env), timeout=600,
        input=input,
    )
    return _checked(args, result, check)


def qcpipe_in_process(
    *args: str, home: Path, check: bool = True, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`qcpipe` as above, through the same `main()` (argument parsing, error messages, exit
    codes), without starting a process: for tests that run many commands."""
    saved_environ, saved_argv, saved_stdin = dict(os.environ), sys.argv, sys.stdin
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(_environment(home, env))
    sys.argv = ["qcpipe", *args]
    sys.stdin = io.StringIO(input or "")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.argv = saved_argv
        sys.stdin = saved_stdin
    return _checked(args, subprocess.CompletedProcess(["qcpipe", *args], code, out.getvalue(), err.getvalue()), check)
