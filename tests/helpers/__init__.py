"""Helpers shared by the test modules (fixtures stay in the conftest files).

- `tests.helpers.paths`: REPO, DEV_CORPUS, DEV_LABELS, SAMPLES, SCORING_FIXTURES.
- `tests.helpers.audio`: write_audio, settled, copy_calls: audio files and dev-corpus folders.
- `tests.helpers.cli`: qcpipe(): run the `qcpipe` command in its own process, as a user would.
- `tests.helpers.calls`: make_call (a CallInput from scripted turns), load_fixture_cases, dev_label.
- `tests.helpers.rows`: ORM rows without Whisper: call/finding builders, and seed_call (a scripted
  call stored and scored by the real rulebook).
"""
