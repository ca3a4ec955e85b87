"""Settings: defaults, overridden by a TOML file, then by environment variables, then by CLI options.

Every key is documented in the shipped `qcpipe/configs/qcpipe.toml` (`configs/qcpipe.toml` in a
checkout; `qcpipe config template` prints it), the file a call center copies and edits.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from qcpipe.configs import default_rulebook
from qcpipe.errors import ConfigError
from qcpipe.periods import DEFAULT_TIMEZONE

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """Where qcpipe keeps its database and joined models unless told otherwise.

    `$QCPIPE_HOME`, else `$XDG_DATA_HOME/qcpipe`, else `~/.local/share/qcpipe`.
    """
    if home := os.environ.get("QCPIPE_HOME"):
        return Path(home)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "qcpipe"


def default_models_dir() -> Path:
    """`$QCPIPE_MODELS_DIR`; in a source checkout its `models/` folder; else `<data dir>/models`."""
    if env := os.environ.get("QCPIPE_MODELS_DIR"):
        return Path(env)
    checkout_models = _PACKAGE_DIR.parent / "models"
    if checkout_models.is_dir() and (_PACKAGE_DIR.parent / "pyproject.toml").is_file():
        return checkout_models
    return data_dir() / "models"


def default_db_url() -> str:
    return f"sqlite:///{data_dir() / 'qcpipe.db'}"


@dataclass(frozen=True)
class ChannelMap:
    """Which recorder channel carries which party. Most recorders put the agent on the left (0)."""

    agent: int = 0
    customer: int = 1
    # A recording with more channels (a supervisor's, an IVR's) is refused unless the center
    # says the other channels hold nothing to check: silently dropping a party hides evidence.
    ignore_other_channels: bool = False

    def __post_init__(self) -> None:
        if self.agent == self.customer or min(self.agent, self.customer) < 0:
            raise ConfigError(
                f"channels: agent={self.agent} and customer={self.customer} must be two different "
                "channel numbers (0 = left, 1 = right)"
            )


@dataclass(frozen=True)
class PrivacySettings:
    """Which personal numbers are masked in transcripts shown or exported (个人信息保护).

    store_heard_text: keep the unmasked text in the database. Off by default: masking is
    applied before anything is stored, unless the center opts in (e.g. to audit ASR).
    """

    mask_phone: bool = True
    mask_id_card: bool = True
    mask_bank_card: bool = True
    store_heard_text: bool = False


EXECUTORS = ("local", "ray")  # where a run's calls can be transcribed (`Settings.executor`)


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know that is not on the command line's positional arguments."""

    db_url: str = field(default_factory=default_db_url)
    model: str = "base"
    models_dir: Path = field(default_factory=default_models_dir)
    device: str = "auto"
    compute_type: str = "auto"
    workers: int = 0  # 0 = one per core
    beam_size: int = 5
    batched: bool | None = None  # None = batched decoding on GPU, sequential on CPU
    batch_size: int = 16
    gpu_decoders: int = 8  # batches decoding at once on a GPU (asr.batching)
    gpu_batch_min_windows: int = 1  # windows waiting before a batch starts beside one decoding
    hotwords: str | None = None
    initial_prompt: str | None = None
    remove_crosstalk: bool = True
    background_below_db: float = 12.0
    lost_speech_s: float = 2.0
    rehear_room_s: float = 1.5  # an agent channel with this much room heard again, the room turned down
    encode_padding_s: float = 30.0  # padding encoded after each window's audio (30 s = Whisper's own)
    greedy_first_pass: bool = False  # each window decoded greedily first, with the beam only where unsure
    sure_log_prob: float = -0.5  # a greedy reading this likely per token (or more) is kept
    restrict_vocabulary: bool = True  # decode with the tokens Chinese is written with only
    reread_script: bool = True  # stretches that sound like a rulebook phrase are scored as it too
    # Where calls are transcribed: "local" (threads of this process) or "ray" (the workers of a
    # Ray cluster at `ray_address`: "auto", "HOST:PORT", or unset to start Ray on this machine),
    # each Ray worker on `ray_cpus_per_worker` cores when on CPU, `ray_workers_per_gpu` of them
    # sharing each GPU on CUDA. The run itself stays here.
    executor: str = "local"
    ray_address: str | None = None
    ray_cpus_per_worker: int = 1
    ray_workers_per_gpu: int = 2  # two processes keep a card busy where one process's GIL cannot
    channels: ChannelMap = field(default_factory=ChannelMap)
    rules: Path = field(default_factory=default_rulebook)
    timezone: str = DEFAULT_TIMEZONE
    pass_line: float = 80.0  # monthly QA score below this fails the month (qa-rulebook.md)
    appeal_window_days: int = 7  # appeals later than this after scoring are refused
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    # A recording modified less than this many seconds ago may still be being written (a
    # recorder writes a call as it goes): the run waits for it to be this old, and leaves one
    # still changing after that for the next run, rather than transcribe half a call.
    settle_s: float = 10.0
    # The web workspace: a session unused this long is logged out; cookies marked Secure when
    # qcpipe is served behind HTTPS (a reverse proxy), so a browser never sends them in the clear.
    idle_timeout_min: float = 30.0
    secure_cookies: bool = False
    # Unflagged calls a QA lead samples for review, per agent and week (the machine's misses).
    sample_percent: float = 2.0

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError(f"executor {self.executor!r}: one of {', '.join(map(repr, EXECUTORS))} "
                              "(this machine's threads, or a Ray cluster's workers)")
        if self.encode_padding_s < 0:
            raise ConfigError(f"encode_padding_s {self.encode_padding_s}: seconds of padding, 0 or more "
                              "(30 encodes every window padded to 30 s, as Whisper does)")
        if self.sure_log_prob > 0:
            raise ConfigError(f"sure_log_prob {self.sure_log_prob}: an average log-probability per token, 0 or less "
                              "(0 decodes every window with the beam again)")
        if self.gpu_decoders < 1:
            raise ConfigError(f"gpu_decoders {self.gpu_decoders}: how many batches decode at once on a GPU, 1 or more")
        if self.gpu_batch_min_windows < 1:
            raise ConfigError(f"gpu_batch_min_windows {self.gpu_batch_min_windows}: windows waiting before "
                              "a batch starts beside one decoding on a GPU, 1 or more")
        if self.ray_cpus_per_worker < 1:
            raise ConfigError(f"ray_cpus_per_worker {self.ray_cpus_per_worker}: a Ray worker needs at least 1 core")
        if self.ray_workers_per_gpu < 1:
            raise ConfigError(f"ray_workers_per_gpu {self.ray_workers_per_gpu}: "
                              "Ray workers sharing each GPU, 1 or more")

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values replaced (CLI options pass None when unset)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def with_agent_channel(self, channel: int | None) -> Settings:
        """A copy where the agent is on `channel` and the customer on the other of a stereo pair."""
        if channel is None:
            return self
        if channel not in (0, 1):
            raise ConfigError(f"agent channel {channel}: a stereo recording has channels 0 (left) and 1 (right)")
        return replace(self, channels=replace(self.channels, agent=channel, customer=1 - channel))


_ENV = {"QCPIPE_DB": "db_url", "QCPIPE_MODEL": "model", "QCPIPE_DEVICE": "device"}


def load_settings(config_file: Path | None = None) -> Settings:
    """Defaults <- TOML file (`config_file` or `$QCPIPE_CONFIG`) <- environment variables."""
    values: dict[str, Any] = {}
    path = config_file or (Path(p) if (p := os.environ.get("QCPIPE_CONFIG")) else None)
    if path is not None:
        values.update(_read_toml(path))
    for env, key in _ENV.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    return Settings(**values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    # The sections of their own ([channels], [privacy]) are read below, never as a plain key.
    known = {f.name for f in fields(Settings)} - {"channels", "privacy"}
    out: dict[str, Any] = {}
    for section in ("storage", "ingest", "asr", "scoring", "center", "web"):
        for key, value in raw.pop(section, {}).items():
            name = {"db": "db_url"}.get(key, key)
            if name not in known:
                raise ConfigError(f"{path}: unknown key [{section}] {key}")
            out[name] = Path(value) if name in ("models_dir", "rules") else value
    if privacy := raw.pop("privacy", None):
        try:
            out["privacy"] = PrivacySettings(**privacy)
        except TypeError:
            known_keys = ", ".join(f.name for f in fields(PrivacySettings))
            raise ConfigError(f"{path}: [privacy] takes only {known_keys}") from None
    if channels := raw.pop("channels", None):
        try:
            out["channels"] = ChannelMap(**channels)
        except TypeError:
            raise ConfigError(f"{path}: [channels] takes only 'agent', 'customer' and 'ignore_other_channels'") from None
    if raw:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(raw))}")
    return out
