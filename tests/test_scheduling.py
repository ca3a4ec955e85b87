"""The suite spread over two test processes (scripts/test.sh): a file's tests on one, the files
that load the whole machine on one between them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers.paths import REPO

pytest.importorskip("xdist")  # the test extra has it; a bare machine running some tests may not

from tests.helpers.scheduling import WHOLE_MACHINE, WHOLE_MACHINE_FILES, unit_of_work  # noqa: E402


def test_a_test_belongs_to_its_file_and_the_whole_machine_files_to_one_unit() -> None:
    assert unit_of_work("tests/web/test_pages.py::test_a[sqlite]") == "tests/web/test_pages.py"
    assert unit_of_work("tests/web/test_pages.py::TestX::test_b") == "tests/web/test_pages.py"
    assert {unit_of_work(f"{path}::test_x") for path in WHOLE_MACHINE_FILES} == {WHOLE_MACHINE}
    assert all((REPO / path).is_file() for path in WHOLE_MACHINE_FILES)


def test_two_test_processes_keep_a_files_tests_together() -> None:
    # A real pytest-xdist session over two files of quick tests: where each test ran.
    files = ["tests/pipeline/test_ray_executor.py", "tests/scoring/test_engine.py"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-v", "-p", "no:cacheprovider",
         "-m", "not asr and not ray and not postgres", *files],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ran_on: dict[str, set[str]] = {}
    for worker, path in re.findall(r"^\[(gw\d+)\] \[ *\d+%\] \w+ (tests/[\w/]+\.py)::", result.stdout, re.M):
        ran_on.setdefault(path, set()).add(worker)
    assert set(ran_on) == set(files), result.stdout[-3000:]
    assert all(len(workers) == 1 for workers in ran_on.values()), ran_on
