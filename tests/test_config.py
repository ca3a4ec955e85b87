"""Settings: defaults <- TOML file <- environment variables <- CLI options, and bad files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcpipe.config import ChannelMap, PrivacySettings, Settings, data_dir, default_db_url, load_settings
from qcpipe.errors import ConfigError
from tests.helpers.paths import REPO

ENVIRONMENT = ("QCPIPE_HOME", "QCPIPE_DB", "QCPIPE_MODEL", "QCPIPE_DEVICE", "QCPIPE_CONFIG", "QCPIPE_MODELS_DIR",
               "XDG_DATA_HOME")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path: Path) -> Path:
    """No qcpipe variable of the test run leaks in; the home folder is a fresh one."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def toml(tmp_path: Path, text: str, name: str = "qcpipe.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.db_url == f"sqlite:///{tmp_path / 'home' / '.local' / 'share' / 'qcpipe' / 'qcpipe.db'}"
    assert (settings.model, settings.device, settings.compute_type, settings.workers) == ("base", "auto", "auto", 0)
    assert (settings.timezone, settings.pass_line, settings.appeal_window_days) == ("Asia/Shanghai", 80.0, 7)
    assert settings.channels == ChannelMap(agent=0, customer=1, ignore_other_channels=False)
    assert settings.privacy == PrivacySettings(mask_phone=True, mask_id_card=True, mask_bank_card=True,
                                               store_heard_text=False)
    assert settings.rules.resolve() == (REPO / "configs" / "rules" / "default.yaml").resolve()  # the shipped one


def test_the_shipped_template_is_the_defaults() -> None:
    assert load_settings(REPO / "configs" / "qcpipe.toml") == Settings()


def test_a_file_overrides_the_defaults(tmp_path: Path) -> None:
    path = toml(tmp_path, """
[storage]
db = "sqlite:////srv/qc.db"
[ingest]
settle_s = 30
[asr]
model = "/models/large-v3"
models_dir = "/srv/models"
device = "cpu"
beam_size = 2
batched = true
hotwords = "畅联通信"
encode_padding_s = 2
greedy_first_pass = true
sure_log_prob = -0.4
gpu_decoders = 2
gpu_batch_min_windows = 4
ray_workers_per_gpu = 3
[scoring]
rules = "/etc/qcpipe/rules.yaml"
[center]
timezone = "Asia/Urumqi"
pass_line = 85
appeal_window_days = 3
""")
    settings = load_settings(path)
    assert settings.db_url == "sqlite:////srv/qc.db"  # [storage] db is the db_url
    assert (settings.settle_s, settings.model, settings.device, settings.beam_size) == (30, "/models/large-v3", "cpu", 2)
    assert (settings.batched, settings.hotwords, settings.encode_padding_s) == (True, "畅联通信", 2)
    assert (settings.greedy_first_pass, settings.sure_log_prob) == (True, -0.4)
    assert (settings.gpu_decoders, settings.gpu_batch_min_windows, settings.ray_workers_per_gpu) == (2, 4, 3)
    assert settings.models_dir == Path("/srv/models") and settings.rules == Path("/etc/qcpipe/rules.yaml")
    assert (settings.timezone, settings.pass_line, settings.appeal_window_days) == ("Asia/Urumqi", 85, 3)
    assert (settings.compute_type, settings.workers) == ("auto", 0)  # not in the file: defaults


def test_environment_variables_override_the_file(tmp_path: Path, monkeypatch) -> None:
    path = toml(tmp_path, '[storage]\ndb = "sqlite:///file.db"\n[asr]\nmodel = "small"\ndevice = "cuda"\n')
    monkeypatch.setenv("QCPIPE_DB", "postgresql+psycopg://qc@db/qc")
    monkeypatch.setenv("QCPIPE_MODEL", "/models/belle")
    monkeypatch.setenv("QCPIPE_DEVICE", "cpu")
    settings = load_settings(path)
    assert (settings.db_url, settings.model, settings.device) == ("postgresql+psycopg://qc@db/qc", "/models/belle", "cpu")


def test_an_empty_environment_variable_is_unset(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QCPIPE_MODEL", "")
    assert load_settings(toml(tmp_path, '[asr]\nmodel = "small"\n')).model == "small"


def test_qcpipe_config_names_the_file_unless_one_is_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QCPIPE_CONFIG", str(toml(tmp_path, "[center]\npass_line = 70\n", "env.toml")))
    assert load_settings().pass_line == 70
    assert load_settings(toml(tmp_path, "[center]\npass_line = 90\n", "given.toml")).pass_line == 90


def test_unknown_section_or_key_is_refused_naming_the_file_and_key(tmp_path: Path) -> None:
    path = toml(tmp_path, "[asr]\nbeam = 2\n")
    with pytest.raises(ConfigError, match=r"qcpipe\.toml: unknown key \[asr\] beam"):
        load_settings(path)
    path = toml(tmp_path, "[scoring]\nrules = 'x.yaml'\n[report]\nformat = 'xlsx'\n[ui]\nport = 80\n", "sections.toml")
    with pytest.raises(ConfigError, match=r"sections\.toml: unknown section\(s\) report, ui"):
        load_settings(path)
    with pytest.raises(ConfigError, match=r"unknown key \[web\] port"):
        load_settings(toml(tmp_path, "[web]\nport = 80\n", "web.toml"))


def test_bad_or_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_settings(toml(tmp_path, "[asr\nmodel = base\n", "bad.toml"))
    (tmp_path / "gbk.toml").write_bytes("[asr]\nhotwords = '畅联'\n".encode("gbk"))
    with pytest.raises(ConfigError, match=r"gbk\.toml: not valid TOML"):
        load_settings(tmp_path / "gbk.toml")
    with pytest.raises(ConfigError, match=r"missing\.toml: config file not found"):
        load_settings(tmp_path / "missing.toml")


def test_privacy_section(tmp_path: Path) -> None:
    settings = load_settings(toml(tmp_path, "[privacy]\nmask_bank_card = false\nstore_heard_text = true\n"))
    assert settings.privacy == PrivacySettings(mask_phone=True, mask_id_card=True, mask_bank_card=False,
                                               store_heard_text=True)
    with pytest.raises(ConfigError, match=r"qcpipe\.toml: \[privacy\] takes only mask_phone, mask_id_card, "
                                          r"mask_bank_card, store_heard_text"):
        load_settings(toml(tmp_path, "[privacy]\nmask_email = true\n"))


def test_channels_section(tmp_path: Path) -> None:
    settings = load_settings(toml(tmp_path, "[channels]\nagent = 1\ncustomer = 0\nignore_other_channels = true\n"))
    assert settings.channels == ChannelMap(agent=1, customer=0, ignore_other_channels=True)
    with pytest.raises(ConfigError, match=r"qcpipe\.toml: \[channels\] takes only 'agent', 'customer'"):
        load_settings(toml(tmp_path, "[channels]\nsupervisor = 2\n"))
    with pytest.raises(ConfigError, match="agent=1 and customer=1 must be two different channel numbers"):
        load_settings(toml(tmp_path, "[channels]\nagent = 1\ncustomer = 1\n"))
    with pytest.raises(ConfigError, match="must be two different"):
        ChannelMap(agent=-1, customer=1)


def test_a_negative_encoder_padding_is_refused_saying_what_it_is(tmp_path: Path) -> None:
    path = toml(tmp_path, "[asr]\nencode_padding_s = -1\n")
    with pytest.raises(ConfigError, match=r"encode_padding_s -1: seconds of padding, 0 or more"):
        load_settings(path)


def test_a_positive_sure_log_prob_is_refused_saying_what_it_is(tmp_path: Path) -> None:
    path = toml(tmp_path, "[asr]\nsure_log_prob = 0.2\n")
    with pytest.raises(ConfigError, match=r"sure_log_prob 0.2: an average log-probability per token, 0 or less"):
        load_settings(path)


def test_gpu_decoding_settings_under_1_are_refused_saying_what_they_are(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gpu_decoders 0: how many batches decode at once on a GPU, 1 or more"):
        load_settings(toml(tmp_path, "[asr]\ngpu_decoders = 0\n"))
    with pytest.raises(ConfigError, match=r"gpu_batch_min_windows 0: windows waiting before a batch starts"):
        load_settings(toml(tmp_path, "[asr]\ngpu_batch_min_windows = 0\n"))


def test_no_ray_worker_per_gpu_is_refused_saying_what_it_is(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ray_workers_per_gpu 0: Ray workers sharing each GPU, 1 or more"):
        load_settings(toml(tmp_path, "[asr]\nray_workers_per_gpu = 0\n"))


def test_with_overrides_ignores_none() -> None:
    base = Settings(db_url="sqlite:///base.db", model="small")
    changed = base.with_overrides(db_url=None, model="/models/belle", workers=None, beam_size=2)
    assert (changed.db_url, changed.model, changed.workers, changed.beam_size) == ("sqlite:///base.db", "/models/belle", 0, 2)
    assert base.model == "small"  # a copy: the settings are frozen
    assert base.with_overrides(db_url=None) == base


def test_with_agent_channel_swaps_the_parties() -> None:
    settings = Settings(db_url="sqlite:///x.db", channels=ChannelMap(ignore_other_channels=True))
    swapped = settings.with_agent_channel(1)
    assert swapped.channels == ChannelMap(agent=1, customer=0, ignore_other_channels=True)
    assert swapped.with_agent_channel(0).channels == settings.channels
    assert settings.with_agent_channel(None) is settings
    with pytest.raises(ConfigError, match="agent channel 2: a stereo recording has channels 0"):
        settings.with_agent_channel(2)


def test_data_dir(tmp_path: Path, monkeypatch) -> None:
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "qcpipe"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "qcpipe"
    monkeypatch.setenv("QCPIPE_HOME", str(tmp_path / "qc"))
    assert data_dir() == tmp_path / "qc"  # before XDG_DATA_HOME
    assert default_db_url() == f"sqlite:///{tmp_path / 'qc' / 'qcpipe.db'}"
    assert load_settings().db_url == default_db_url()
