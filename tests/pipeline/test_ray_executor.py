"""`qcpipe run --executor ray`: calls transcribed by the workers of a Ray cluster (a local one of
separate worker nodes, `ray.cluster_utils.Cluster`) and stored by the run, as the local path
stores them: the same transcripts and findings; a worker node lost mid-run costs no call; a bad
recording is that call's failure, naming the file.

Ray is optional: without it these tests are skipped, except under CI=true, where it must be there.
The option checks need no Ray.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from qcpipe.asr import AsrOptions, Transcriber
from qcpipe.cli.run import EXIT_SOME_FAILED
from qcpipe.config import Settings, default_models_dir
from qcpipe.errors import ConfigError, QcpipeError
from qcpipe.ingest import sources_for
from qcpipe.pipeline import CallOutcome, Outcome, run_batch
from qcpipe.pipeline.batch import WorkersLost
from qcpipe.pipeline.ray_executor import GPU_WORKER_CALLS, RayExecutor
from qcpipe.scoring import Rulebook
from qcpipe.store import Call, CallClaim, CallStatus, Database, open_database
from tests.helpers.audio import copy_calls, settled
from tests.helpers.cli import qcpipe, qcpipe_in_process
from tests.helpers.heard import heard, shortest_dev_calls
from tests.helpers.paths import DEV_CORPUS
from tests.helpers.ray_runtime import import_ray

# This file loads the whole machine: it takes turns with the others that do (tests/helpers/scheduling.py).
OPTIONS = AsrOptions(device="cpu", compute_type="int8")  # what `qcpipe run` chooses on a machine without GPU
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}  # a worker node: one actor of one thread


CALLS = shortest_dev_calls(5)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A Ray cluster on this machine: a head that runs nothing (no CPU) and two worker nodes of
    one CPU each, this test process its driver."""
    ray = import_ray()
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True,
                   head_node_args={"num_cpus": 0, "object_store_memory": 80 * 2**20, "include_dashboard": False})
    try:
        for _ in range(2):
            made.add_node(**NODE)
        made.wait_for_nodes()
        ray.init(address=made.address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


def _no_local_model() -> Transcriber:
    raise AssertionError("with a Ray executor, the run must not load a model of its own")


@pytest.mark.ray
@pytest.mark.asr
def test_a_worker_node_lost_mid_run_costs_no_call_and_the_results_are_the_local_ones(
    cluster: Any, rulebook: Rulebook, sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    folder = tmp_path / "day"
    manifest = copy_calls(CALLS, folder)
    doomed = next(iter(cluster.worker_nodes))
    lost: list[str] = []  # the call stored before the node went

    def lose_a_node(outcome: CallOutcome) -> None:
        if outcome.outcome is Outcome.DONE and not lost:
            lost.append(outcome.call_id)
            cluster.remove_node(doomed)  # each worker was sent two calls: this one's have not come back

    caplog.set_level(logging.WARNING, logger="qcpipe.pipeline.ray_executor")
    try:
        summary = run_batch(
            sources_for(folder, manifest), sqlite_db, _no_local_model, asr_fingerprint=OPTIONS.fingerprint(),
            rulebook=rulebook, on_outcome=lose_a_node,
            executor=RayExecutor(OPTIONS, default_models_dir(), address=cluster.address),
        )
    finally:
        if doomed not in cluster.worker_nodes:
            cluster.add_node(**NODE)  # the next test finds the cluster as it was
            cluster.wait_for_nodes()
    assert lost, "no call was stored, so no node was removed"
    assert any("sent again" in record.getMessage() for record in caplog.records), "no call was in hand on the lost node"
    assert (summary.done, summary.failed) == (len(CALLS), 0), summary.failures
    with sqlite_db.session() as session:
        rows = session.execute(select(Call.call_id, func.count(), func.min(Call.status)).group_by(Call.call_id)).all()
    assert sorted(rows) == [(call_id, 1, CallStatus.DONE) for call_id in sorted(CALLS)]  # each once, done

    # The local path, as numpy's BLAS runs on a Ray worker of one CPU (Ray gives it one thread):
    # a BLAS sum in another order can tip a word or a punctuation mark of Whisper's output.
    local_url = f"sqlite:///{tmp_path / 'local.db'}"
    qcpipe("run", str(folder), "--manifest", str(manifest), "--workers", "2", "--db", local_url,
           home=tmp_path / "home", env={"OMP_NUM_THREADS": "1"})
    local = open_database(local_url)
    try:
        expected = heard(local)
    finally:
        local.dispose()
    on_ray = heard(sqlite_db)
    assert sorted(on_ray) == sorted(CALLS)
    for call_id in CALLS:
        assert on_ray[call_id][0] == expected[call_id][0], f"{call_id}: the Ray worker heard other words"
        assert on_ray[call_id][1] == expected[call_id][1], f"{call_id}: other findings on Ray"
    assert any(findings for _, findings in on_ray.values())  # findings were compared, not just empty sets


@pytest.mark.ray
@pytest.mark.asr
def test_when_every_worker_is_lost_new_ones_start_on_the_nodes_left(
    cluster: Any, sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    manifest = copy_calls(CALLS[:3], tmp_path)
    replaced: list[Any] = []

    def lose_every_node(outcome: CallOutcome) -> None:
        if outcome.outcome is Outcome.DONE and not replaced:
            for node in list(cluster.worker_nodes):
                cluster.remove_node(node)
            replaced.append(cluster.add_node(**NODE))  # a node that was not there when the run began

    caplog.set_level(logging.WARNING, logger="qcpipe.pipeline.ray_executor")
    try:
        summary = run_batch(
            sources_for(tmp_path, manifest), sqlite_db, _no_local_model, asr_fingerprint=OPTIONS.fingerprint(),
            on_outcome=lose_every_node,
            executor=RayExecutor(OPTIONS, default_models_dir(), address=cluster.address),
        )
    finally:
        while len(cluster.worker_nodes) < 2:
            cluster.add_node(**NODE)  # the next test finds the cluster as it was
        cluster.wait_for_nodes()
    assert replaced, "no call was stored, so no node was removed"
    messages = [record.getMessage() for record in caplog.records]
    assert any("starting new ones" in message for message in messages), messages
    assert (summary.done, summary.failed) == (3, 0), summary.failures


@pytest.mark.ray
@pytest.mark.asr
def test_when_no_worker_can_start_again_the_run_stops_and_leaves_the_rest_for_the_next_run(
    cluster: Any, sqlite_db: Database, tmp_path: Path,
) -> None:
    manifest = copy_calls(CALLS[:4], tmp_path)
    stored: list[str] = []

    def lose_the_cluster(outcome: CallOutcome) -> None:
        if outcome.outcome is Outcome.DONE:
            stored.append(outcome.call_id)
            if len(stored) == 1:
                for node in list(cluster.worker_nodes):
                    cluster.remove_node(node)

    def run() -> Any:
        return run_batch(
            sources_for(tmp_path, manifest), sqlite_db, _no_local_model, asr_fingerprint=OPTIONS.fingerprint(),
            on_outcome=lose_the_cluster,
            # The default start timeout (a shorter one also bounds the first start, which loads
            # the model): with no node left, the relaunch waits only a short grace, and the run stops.
            executor=RayExecutor(OPTIONS, default_models_dir(), address=cluster.address),
        )

    try:
        with pytest.raises(WorkersLost, match="no Ray transcription workers left"):
            run()
    finally:
        while len(cluster.worker_nodes) < 2:
            cluster.add_node(**NODE)
        cluster.wait_for_nodes()
    with sqlite_db.session() as session:
        statuses = dict(session.execute(select(Call.call_id, Call.status)).all())
        assert session.scalar(select(func.count()).select_from(CallClaim)) == 0  # nothing left claimed
    # What the run stored before it stopped is kept (the other node may finish a call while the
    # nodes are being removed); the others are not failed: they did nothing wrong.
    before = list(stored)
    assert statuses == dict.fromkeys(before, CallStatus.DONE) and len(before) < 4
    summary = run()  # the cluster is back: the next run does the rest
    assert (summary.done, summary.skipped, summary.failed) == (4 - len(before), len(before), 0)


@pytest.mark.ray
@pytest.mark.asr
def test_a_bad_recording_is_that_calls_failure_naming_the_file(cluster: Any, tmp_path: Path) -> None:
    """Through `qcpipe run --executor ray`: another driver joining the cluster."""
    day = tmp_path / "day"
    manifest = copy_calls(CALLS[:2], day)
    truncated = (DEV_CORPUS / "audio" / "D110001.wav").read_bytes()[:40]  # a recorder cut off in the header
    (day / "audio" / "BAD1.wav").write_bytes(truncated)
    settled(day / "audio" / "BAD1.wav")
    with open(manifest, "a", encoding="utf-8") as handle:
        handle.write("BAD1,audio/BAD1.wav,A01,张伟,一组,2026-10-01T09:00:00+08:00,5\n")
    db_url = f"sqlite:///{tmp_path / 'qcpipe.db'}"
    result = qcpipe("run", str(day), "--manifest", str(manifest), "--executor", "ray", "--ray-address", cluster.address,
                    "--db", db_url, home=tmp_path / "home", check=False)
    assert result.returncode == EXIT_SOME_FAILED, result.stderr
    assert "calls done 2 · skipped 0 · failed 1" in result.stdout
    database = open_database(db_url)
    try:
        with database.session() as session:
            calls = {call.call_id: call for call in session.scalars(select(Call))}
            assert {call_id for call_id, call in calls.items() if call.status == CallStatus.DONE} == set(CALLS[:2])
            error = calls["BAD1"].error
            assert calls["BAD1"].status == CallStatus.FAILED
    finally:
        database.dispose()
    assert "BAD1.wav: " in error and "\n" not in error
    assert "Ray" not in error and "Traceback" not in error  # the call's own reason, not the cluster's


def test_the_executor_options_are_checked(tmp_path: Path) -> None:
    result = qcpipe_in_process("run", str(tmp_path), "--executor", "spark", home=tmp_path, check=False)
    assert result.returncode == 2 and "'spark' is not one of 'local', 'ray'" in result.stderr
    result = qcpipe_in_process("run", str(tmp_path), "--ray-address", "auto", home=tmp_path, check=False)
    assert result.returncode == 2 and "--ray-address is for --executor ray" in result.stderr
    with pytest.raises(ConfigError, match="executor 'spark'"):
        Settings(executor="spark")  # as from a config file


@pytest.mark.ray
def test_a_cluster_with_no_room_for_a_worker_says_so_at_once(cluster: Any) -> None:
    """`--device cuda` on a cluster of CPU nodes: nothing there could ever hold a worker, so the
    run is told what a worker needs and what the cluster has after a short grace, not after the
    start timeout (the message of a start waited out says "started within")."""
    on_gpus = RayExecutor(AsrOptions(device="cuda", compute_type="float16", batched=True), default_models_dir(),
                          address=cluster.address, workers_per_gpu=1)
    with pytest.raises(QcpipeError, match="no Ray transcription worker can start: each needs 1 GPU; "
                                          "the cluster has 0 GPU"):
        on_gpus.start()


@pytest.mark.ray
@pytest.mark.parametrize(("workers_per_gpu", "share"), [(2, "0.5"), (3, "0.3333")])
def test_workers_sharing_a_gpu_are_told_their_share_when_there_is_no_room(
        cluster: Any, workers_per_gpu: int, share: str) -> None:
    # A start timeout of 1 s bounds the grace (what is asserted is the message, not the wait).
    on_gpus = RayExecutor(AsrOptions(device="cuda", compute_type="float16", batched=True), default_models_dir(),
                          address=cluster.address, workers_per_gpu=workers_per_gpu, start_timeout_s=1)
    with pytest.raises(QcpipeError, match=f"no Ray transcription worker can start: each needs {share} GPU; "
                                          "the cluster has 0 GPU"):
        on_gpus.start()


@pytest.mark.parametrize(("workers_per_gpu", "gpus", "workers"), [(1, 2, 2), (2, 1, 2), (3, 2, 6), (2, 1.5, 2)])
def test_workers_sharing_gpus_are_as_many_per_whole_gpu_as_asked(
        workers_per_gpu: int, gpus: float, workers: int) -> None:
    on_gpus = RayExecutor(AsrOptions(device="cuda", compute_type="float16", batched=True), default_models_dir(),
                          workers_per_gpu=workers_per_gpu)
    assert on_gpus._capacity({"GPU": gpus, "CPU": 32}) == workers


@pytest.mark.parametrize(("workers_per_gpu", "decoders"), [(1, 8), (2, 4), (3, 2), (16, 1)])
def test_workers_sharing_a_gpu_share_its_decoding_threads_not_their_calls(workers_per_gpu: int, decoders: int) -> None:
    """Two workers on a card run 4 decoding threads each, as one worker runs 8: the card's
    streams stay as many, only the processes feeding them are more. Each still holds a GPU
    worker's calls, or it would have too few to prepare for its share of the card."""
    options = AsrOptions(device="cuda", compute_type="float16", batched=True, gpu_decoders=8)
    on_gpus = RayExecutor(options, default_models_dir(), workers_per_gpu=workers_per_gpu)
    assert on_gpus._options.gpu_decoders == decoders
    assert on_gpus._concurrency == GPU_WORKER_CALLS
    assert on_gpus._options.fingerprint() == options.fingerprint()  # the same recognition


def test_a_gpu_worker_holds_the_calls_asked_for() -> None:
    options = AsrOptions(device="cuda", compute_type="float16", batched=True)
    assert RayExecutor(options, default_models_dir(), gpu_calls=32)._concurrency == 32
    assert RayExecutor(AsrOptions(), default_models_dir(), gpu_calls=32)._concurrency == 1  # CPU: a call at a time
    with pytest.raises(ConfigError, match="calls a Ray GPU worker holds: at least 1, not 0"):
        RayExecutor(options, default_models_dir(), gpu_calls=0)


def test_no_worker_per_gpu_is_refused() -> None:
    with pytest.raises(ConfigError, match="Ray workers per GPU: at least 1, not 0"):
        RayExecutor(AsrOptions(device="cuda", compute_type="float16", batched=True), default_models_dir(),
                    workers_per_gpu=0)


def test_without_ray_the_ray_executor_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails, as where it is not installed
    with pytest.raises(ConfigError, match=r"pip install 'qcpipe\[ray\]'"):
        RayExecutor(AsrOptions(), default_models_dir())


def test_a_gpu_asked_for_is_the_ray_workers_not_the_drivers() -> None:
    import ctranslate2

    from qcpipe.errors import ModelError
    from qcpipe.pipeline import asr_options

    if ctranslate2.get_cuda_device_count():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(ModelError, match="no CUDA device"):
        asr_options(Settings(device="cuda"))  # the local path decodes here: there must be one here
    on_the_cluster = asr_options(Settings(device="cuda", executor="ray", gpu_decoders=3))
    assert (on_the_cluster.device, on_the_cluster.compute_type, on_the_cluster.batched) == ("cuda", "float16", True)
    assert on_the_cluster.gpu_decoders == 3  # the workers' pools decode that many batches at once
