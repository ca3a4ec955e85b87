"""qcpipe: speech-analytics quality monitoring for Mandarin call centers.

The pipeline, one package per stage:

    ingest/    a folder of recordings + the CTI manifest  -> CallSource
    asr/       audio -> speaker-attributed Transcript (faster-whisper)
    store/     the database: calls, segments, speech timelines (SQLAlchemy 2 + Alembic)
    pipeline/  the nightly batch that drives the stages and records every outcome
    cli/       the `qcpipe` command; it only parses arguments and prints
"""

__version__ = "0.1.0"
