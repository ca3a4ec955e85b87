"""Crosstalk removal on real call audio: a leak is subtracted, a clean call is left alone."""

from __future__ import annotations

import numpy as np
import pytest

from qcpipe.asr import load_audio
from qcpipe.asr.crosstalk import estimate_leak, remove_crosstalk
from tests.helpers.paths import DEV_CORPUS


@pytest.fixture(scope="module")
def call() -> np.ndarray:
    return load_audio(DEV_CORPUS / "audio" / "D110003.flac").samples


def leaked(source: np.ndarray, level_db: float, delay_ms: float = 12.0) -> np.ndarray:
    """`source` as it reaches the other channel: delayed, coloured by a short echo path, `level_db` down."""
    delay = int(delay_ms * 16)
    delayed = np.concatenate([np.zeros(delay, np.float32), source[:-delay]])
    return (np.convolve(delayed, [0.5, 0.3, 0.2])[: len(source)] * 10 ** (level_db / 20)).astype(np.float32)


def energy_db(signal: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(signal.astype(np.float64) ** 2)))


@pytest.mark.parametrize("level_db", [-10.0, -15.0, -20.0])
def test_customer_leak_into_agent_channel_is_removed_and_agent_voice_kept(call: np.ndarray, level_db: float) -> None:
    leak = leaked(call[1], level_db)
    mixed = call.copy()
    mixed[0] = call[0] + leak
    cleaned, applied = remove_crosstalk(mixed, 0, 1)
    assert [(e.source, e.target) for e in applied] == [(1, 0)]
    residual = cleaned[0] - call[0]
    # What is left of the leak is at least 15 dB under the leak itself …
    assert energy_db(residual) < energy_db(leak) - 15
    # … and the customer's own channel is untouched.
    assert np.array_equal(cleaned[1], mixed[1])


def test_both_ways_at_once(call: np.ndarray) -> None:
    mixed = call.copy()
    mixed[0] = call[0] + leaked(call[1], -15.0)
    mixed[1] = call[1] + leaked(call[0], -15.0, delay_ms=6.0)
    cleaned, applied = remove_crosstalk(mixed, 0, 1)
    assert sorted((e.source, e.target) for e in applied) == [(0, 1), (1, 0)]
    for channel, other in ((0, 1), (1, 0)):
        leak = mixed[channel] - call[channel]
        assert energy_db(cleaned[channel] - call[channel]) < energy_db(leak) - 10


def test_a_call_without_crosstalk_is_left_exactly_as_it_is(call: np.ndarray) -> None:
    cleaned, applied = remove_crosstalk(call, 0, 1)
    assert applied == []
    assert cleaned is call
    estimate = estimate_leak(call[1], call[0])
    assert estimate is not None and not estimate.present


def test_a_silent_other_party_gives_no_estimate(call: np.ndarray) -> None:
    assert estimate_leak(np.zeros_like(call[1]), call[0]) is None


@pytest.mark.parametrize("taps", [1, 2, 7, 1024])
def test_the_echo_path_solves_the_fits_normal_equations(taps: int) -> None:
    """The Toeplitz matrix is built from its first column as the normal equations have it
    (symmetric, entry i, j the correlation at lag |i - j|), also for a narrowband (badly
    conditioned) source with the fit's diagonal loading."""
    from qcpipe.asr.crosstalk import _solve_toeplitz

    rng = np.random.default_rng(taps)
    source = np.convolve(rng.standard_normal(20_000), np.ones(8) / 8, "same")
    column = np.correlate(source, source, "full")[len(source) - 1:len(source) - 1 + taps]
    column[0] += 1e-3 * column[0]
    rhs = rng.standard_normal(taps)
    matrix = column[np.abs(np.subtract.outer(np.arange(taps), np.arange(taps)))]
    path = _solve_toeplitz(column, rhs)
    np.testing.assert_allclose(matrix @ path, rhs, rtol=1e-9, atol=1e-9 * np.abs(rhs).max())
