"""Helpers shared by the test modules (fixtures stay in the conftest files).

- `tests.helpers.paths`: REPO, DEV_CORPUS, DEV_LABELS, SAMPLES, SCORING_FIXTURES.
- `tests.helpers.audio`: write_audio, settled, copy_calls: audio files and dev-corpus folders.
- `tests.helpers.degrade`: degraded variants of dev calls (crosstalk, babble, codecs, packet loss,
  clipping, level, tempo) and degrade_corpus: the robustness corpus, built on demand, never committed.
- `tests.helpers.cli`: qcpipe(): run the `qcpipe` command in its own process, as a user would.
- `tests.helpers.calls`: make_call (a CallInput from scripted turns), load_fixture_cases, dev_label.
- `tests.helpers.rows`: ORM rows without Whisper: call/finding builders, and seed_call (a scripted
  call stored and scored by the real rulebook).
- `tests.helpers.browser`: live_server (uvicorn in a thread), the system Chromium for Playwright,
  log_in through the login form of a real page.
- `tests.helpers.web`: the seeded center of the web tests (calls of A03/A07, an account of every
  role), log_in/logged_in through the login form with TestClient, Browser (forms and API with the
  CSRF token), and readers of pages (csrf_of, listed_calls, finding_versions).
"""
