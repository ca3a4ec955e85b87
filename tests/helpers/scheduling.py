"""How the suite is spread over test processes (scripts/test.sh: pytest-xdist, `-n 2 --dist loadfile`).

A test file runs on one process, so that its shared setup (a module fixture that transcribes calls)
is made once, not on each. The files that load the whole machine (a local Ray cluster of three
nodes; runs killed with -9; two runs side by side on one database) are one unit of work: they take
turns on one process instead of running against each other, where a Ray worker's model would not
load within its start timeout.

The grouping is decided here, in the controller, from each test's file. pytest-xdist's own
`--dist loadgroup` marks a test's group by rewriting its node id in the test process, which pytest
9.2 no longer honours (pytest-dev/pytest-xdist#1386): the groups were silently lost and the two
whole-machine files ran at once.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

# Paths relative to the repository, as in pytest's node ids.
WHOLE_MACHINE_FILES = frozenset({
    "tests/pipeline/test_ray_executor.py",
    "tests/pipeline/test_crash_and_concurrency.py",
})
WHOLE_MACHINE = "whole-machine"


def unit_of_work(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or the whole-machine unit."""
    path = nodeid.split("::", 1)[0]
    return WHOLE_MACHINE if path in WHOLE_MACHINE_FILES else path


class FileScheduling(LoadFileScheduling):
    """pytest-xdist's `--dist loadfile` with the whole-machine files as one unit of work."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of_work(nodeid)
