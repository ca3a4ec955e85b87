"""The nightly batch: sources → ASR → store, one transaction per call.

Public surface: `run_batch`, `BatchSummary`, `CallOutcome`.
"""

from qcpipe.pipeline.batch import BatchSummary, CallOutcome, Outcome, asr_options, run_batch, transcribe_sources

__all__ = ["BatchSummary", "CallOutcome", "Outcome", "asr_options", "run_batch", "transcribe_sources"]
