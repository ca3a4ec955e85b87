"""What the ASR stage hands to the rest of the pipeline. Frozen: later stages never mutate them."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from enum import StrEnum


class Role(StrEnum):
    """Who is speaking. `unknown` when the recording (mono) cannot tell the parties apart."""

    AGENT = "agent"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Word:
    """One recognised token with its time span (seconds from the start of the recording)."""

    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Segment:
    """One utterance of one speaker: what a later stage quotes as evidence."""

    channel: int
    role: Role
    start: float
    end: float
    text: str
    confidence: float
    words: tuple[Word, ...] = ()

    def char_times(self) -> list[tuple[float, float]]:
        """A (start, end) per character of `text`, so a rule can point at the exact characters.

        Whisper times tokens, and a Chinese token is one to three characters; a token's span
        is shared evenly among its characters. Characters outside any token (none, normally)
        get the segment's span.
        """
        times: list[tuple[float, float]] = []
        for word in self.words:
            n = len(word.text)
            step = (word.end - word.start) / n if n else 0.0
            times += [(round(word.start + i * step, 3), round(word.start + (i + 1) * step, 3)) for i in range(n)]
        if len(times) != len(self.text):
            return [(self.start, self.end)] * len(self.text)
        return times


@dataclass(frozen=True)
class SpeechRegion:
    """A stretch of speech on one channel, from voice activity detection.

    Silence and hold checks read these, not segment gaps: Whisper merges and stretches segments.
    level_db: how loud the speech is, dBFS of the region's voiced frames (`voice.speech_level_db`);
        None for calls transcribed before levels were measured.
    """

    channel: int
    role: Role
    start: float
    end: float
    level_db: float | None = None


@dataclass(frozen=True)
class AsrOptions:
    """How a transcript was made; stored with every call so a result can be reproduced.

    model: the model's name ("base" = embedded Whisper base) or a local CTranslate2 directory.
    device / compute_type: "auto" resolves to cuda+float16 when a GPU is present, else cpu+int8.
    beam_size: 5 is Whisper's default; lower is faster and less accurate (dev corpus, 2 CPU
        cores, scripts/bench_asr.py: beam 2 is 1.4× faster on an Intel Xeon, CER 12.34 % →
        12.50 %, micro-F1 1.000 → 0.988; 1.15× on an AMD EPYC in November 2026, CER
        11.96 % → 12.19 %, micro-F1 1.000 both). With `encode_padding_s` 2, the faster CPU
        path (`qcpipe-fast` in scripts/bench_asr.py): 1.65× the defaults' speed and 3.25× the
        naive faster-whisper loop's, CER 12.37 % (the naive loop's 12.45 %), micro-F1 1.000.
        On an AMD EPYC of the Zen 3 generation beam 2 was only 1.06× faster (CER 12.15 % →
        12.67 %), and the pair 2.87× the naive loop, CER 12.85 % against its 12.09 %.
        For a CPU short of cores: on an H200 (Ray, two workers) the pair was no faster once up
        (449× against 439×) and heard worse (CER 13.35 % against 12.41 %).
    batched: decode the ≤30 s voiced chunks in batches without timestamp tokens
        (BatchedInferencePipeline). It pays on GPU; on CPU a batch is no faster than its
        chunks one by one, and Whisper's sequential decoding with temperature fallback is
        more accurate (dev corpus CER, scripts/bench_asr.py), so "auto" settings choose
        batched on CUDA and sequential on CPU.
    batch_size: chunks per batch when batched; on GPU the batch gathers chunks of
        several calls (`asr.batching`).
    gpu_decoders: on GPU, how many such batches decode at once (threads of the pool, each on
        its own CUDA stream of the one model; `asr.batching`). 8: on an H100 with 16 cores, the
        dev corpus twice over ran at 127 / 192 / 145 / 234× realtime with 1 / 2 / 4 / 8
        (scripts/bench_asr.py --gpu-decoders, one run each), CER and micro-F1 the same.
    gpu_batch_min_windows: on GPU, with a batch decoding, another starts beside it only once
        this many windows wait, so that batches gather (`asr.batching`); 1 starts one as soon as
        any window waits. The measurements above had about one window a batch whatever this
        was, since no two calls' lanes could then share a batch (see `asr.batching`); it has
        yet to be measured on a card with them sharing.
    vad_min_silence_ms: a pause this long splits speech regions. Short enough to keep turns
        apart, long enough not to cut inside a word.
    vad_pad_ms: padding kept around each speech region so word onsets are not clipped.
    remove_crosstalk: subtract each party's leak (line echo, headset bleed) from the other's
        channel before anything is heard (stereo only; `qcpipe.asr.crosstalk`).
    background_below_db: speech this many dB under the channel's own speaker is the room
        (colleagues' calls), not the party: it is left out of the timeline and not decoded
        (`qcpipe.asr.voice.own_speech`). 0 turns it off.
    rehear_room_s: an agent's channel with at least this many seconds of the room's voices
        (voice activity left out as the room, above) in a block is decoded a second time with
        the room turned down (`qcpipe.asr.room`), and the script phrases only that hearing found
        are written in (`Transcriber._heard_again`): a phrase is missing only if neither hearing
        has it. Either party's channel with that much room also has its timeline's regions
        narrowed at their edges to the speaker's level (`voice.speaker_edges`): the room bridged
        at the edge of a party's words is not that party's time, and a held line's silence is
        measured whole. Measured on the dev corpus: clean audio and every other degradation (16 calls
        each) had at most 1.6 s of room (line echo at -10 dB; most 0), babble 15 dB under the
        agent 1.9-29.7 s (all 64 calls). 0 turns it off.
    lost_speech_s: voiced stretches at least this long that decoding returned no words for are
        decoded again on their own; what is still not heard is kept as an `unheard` span.
        0 turns it off.
    encode_padding_s: how much of the padding after a window's audio the encoder sees
        (`qcpipe.asr.encoder`). 30 (the default) encodes every window padded to 30 s, as
        Whisper does. 2 is 1.35× faster on CPU, at a small and noisy cost in hearing: on the 64
        dev calls (scripts/bench_asr.py) CER 12.34 % → 12.45 / 12.79 / 12.54 % with 2 / 3 / 4 s,
        and eval micro-F1 1.000 → 0.994 / 1.000 / 0.994 (a closing's 再见 misheard); with the
        pipeline of November 2026 on an AMD EPYC, 1.49× faster, CER 11.96 % → 12.20 %, micro-F1
        1.000 both (+0.24 points, 95 % interval over the 128 parties heard −0.18 to +0.67).
        Under 1 s the decoder no longer hears where speech ends: 0.3 s took 32 calls' CER to 20.3 %.
    greedy_first_pass / sure_log_prob: with sequential decoding (the CPU path), each window is
        decoded greedily first, and again with the beam (and Whisper's temperature fallback) only
        where that reading is unsure: its average log-probability per token under
        `sure_log_prob`, its text looping, or the window taken for silence (`qcpipe.asr.first_pass`).
        Off by default: measured on the 64 dev calls on a 2-core AMD EPYC of the Zen 3 generation
        (scripts/bench_asr.py, one run), a third of the windows were decoded again at -0.5, and
        the pass was 1.12× the defaults' speed, CER 12.15 % → 12.50 %, micro-F1 1.000 → 0.994;
        with `encode_padding_s` 2, 1.97× the naive loop's speed at CER 12.69 % against
        `qcpipe-fast`'s 1.94× at 12.85 % (the naive loop: 12.09 %). Whisper base reads most
        windows at -0.2 to -0.5 a token, so no line keeps many greedy readings without hearing
        worse; a larger model, surer and with a dearer beam, may gain more.
    restrict_vocabulary: the decoder scores only the tokens Chinese is written with (Han
        characters and their byte pieces, digits, punctuation, Latin of up to 3 letters):
        12,625 of Whisper's 51,865 (`qcpipe.asr.vocabulary`). Only for language zh / yue.
        On by default: on the 64 dev calls (2 CPU cores, scripts/bench_asr.py, one run) it
        is 1.17× faster (99.0 s → 84.6 s), CER 12.23 % → 12.25 % (the naive loop: 12.32 %),
        eval micro-F1 1.000 both ways. False decodes with the full vocabulary, as transcripts
        made before the setting were.
    script_phrases: the wordings of the center's script (the rulebook's phrases an agent is to
        say, `Rulebook.script_phrases`). A stretch of an agent's or customer's utterance that
        sounds like one is scored against the audio as heard and as the phrase, and the phrase
        is written where the model finds it at least as likely (`qcpipe.asr.script`; phrases
        of 4 or more characters); one that a second hearing found (`rehear_room_s`, any
        length) is written in. Empty: nothing is read again, as transcripts were made before
        the setting existed.
    hotwords / initial_prompt: vocabulary biasing for the decoder (brand names, product terms).
        Off by default: the script phrases as hotwords made Whisper base worse on the dev
        corpus (CER 12.34 % → 16.42 %, half the speed, micro-F1 0.981; scripts/bench_asr.py).
        Mis-heard script phrases are recovered by the scoring stage's fuzzy matching instead.
    """

    model: str = "base"
    device: str = "cpu"
    compute_type: str = "int8"
    language: str = "zh"
    beam_size: int = 5
    batched: bool = False
    batch_size: int = 16
    gpu_decoders: int = 8
    gpu_batch_min_windows: int = 1
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 160
    vad_pad_ms: int = 400
    remove_crosstalk: bool = True
    background_below_db: float = 12.0
    rehear_room_s: float = 1.5
    lost_speech_s: float = 2.0
    encode_padding_s: float = 30.0
    greedy_first_pass: bool = False
    sure_log_prob: float = -0.5
    restrict_vocabulary: bool = True
    hotwords: str | None = None
    initial_prompt: str | None = None
    script_phrases: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """Identifies the recognition settings that change the text (not the device used)."""
        return _fingerprint(self)

    def recorded(self) -> dict:
        """The options as stored with each call: the script's phrases (hundreds of wordings,
        the same for every call of a run) by their count and digest."""
        return dict(_recorded(self))


# Where and how the windows are decoded, not what is heard in them.
_HOW_NOT_WHAT = ("device", "batch_size", "gpu_decoders", "gpu_batch_min_windows")


# Once per options, not per call: the run asks for these three times with every call it stores,
# and copying out the options' hundreds of script phrases each time was a fifth of the run's own
# time per call (scripts/bench_driver.py: 14.8 → 11.9 ms per call claimed, stored and scored).
@functools.lru_cache(maxsize=16)
def _fingerprint(options: AsrOptions) -> str:
    relevant = {k: v for k, v in asdict(options).items() if k not in _HOW_NOT_WHAT}
    if options.encode_padding_s >= 30:
        # Whisper's own padding, as every transcript was made before the setting existed:
        # their fingerprints stay valid (a stored call is not transcribed again for it).
        del relevant["encode_padding_s"]
    if not options.greedy_first_pass:
        # Every window decoded with the beam, as every transcript was made before the setting existed.
        del relevant["greedy_first_pass"], relevant["sure_log_prob"]
    if not options.restrict_vocabulary:
        # The full vocabulary, as every transcript was made before the setting existed.
        del relevant["restrict_vocabulary"]
    if options.rehear_room_s <= 0:  # never heard again, as every transcript was made before the setting existed
        del relevant["rehear_room_s"]
    if options.script_phrases:
        relevant["script_phrases"] = sorted(options.script_phrases)
    else:  # nothing read again, as every transcript was made before the setting existed
        del relevant["script_phrases"]
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=16)
def _recorded(options: AsrOptions) -> dict:
    stored = asdict(options)
    if options.script_phrases:
        digest = hashlib.sha256("\n".join(sorted(options.script_phrases)).encode()).hexdigest()[:16]
        stored["script_phrases"] = f"{len(options.script_phrases)} phrases, sha256 {digest}"
    return stored


@dataclass(frozen=True)
class Transcript:
    """A whole call as heard: utterances of each party plus each channel's speech timeline.

    duration, channels, source_rate: of the recording (seconds; the file's own sample rate).
    unheard: voiced stretches of a party that no word could be recognised in, even decoded
        again on their own (an absence check cannot rule on them).
    """

    segments: tuple[Segment, ...]
    speech: tuple[SpeechRegion, ...]
    duration: float
    channels: int
    roles_known: bool
    options: AsrOptions
    source_rate: int = 16_000
    unheard: tuple[SpeechRegion, ...] = ()
