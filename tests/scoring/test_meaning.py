"""The meaning model (scoring/meaning.py) and the forbidden_phrases check's `meaning:` reader."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qcpipe.scoring import MatchKind, load_rulebook, parse_rulebook, score_call
from qcpipe.scoring.matching import HeardText
from qcpipe.scoring.meaning import MeaningModel, MeaningModelError, load_meaning_model, ngrams, sentence_spans, \
    train_meaning_model
from qcpipe.scoring.normalize import PinyinCoder
from qcpipe.scoring.spec import RulebookError
from tests.helpers.calls import make_call
from tests.helpers.paths import DEV_LABELS, REAL_TEXT, REPO

# A toy task: pushing the caller away against offering help, in words of their own.
PUSHING = ["你自己去营业厅问吧", "你找快递去吧", "这个你自己去查", "你去问别人吧", "你打别的电话去"]
HELPING = ["我帮您查一下", "我帮您转接营业厅", "请您稍等我帮您问一下", "我这边帮您登记", "我帮您联系快递"]


@pytest.fixture(scope="module")
def toy() -> MeaningModel:
    return train_meaning_model(PUSHING, HELPING, name="toy", min_count=1)


@pytest.fixture(scope="module")
def list_only():
    """The default rulebook without its `meaning:` reader."""
    text = (REPO / "configs" / "rules" / "default.yaml").read_text(encoding="utf-8")
    start = text.index("    meaning:\n")
    return parse_rulebook(text[:start] + text[text.index("    phrases:\n", start):])


def _raised(result):
    return [f for f in result.findings if f.rule_id == "forbidden_phrase" and f.match_kind == MatchKind.MEANING]


def test_a_trained_model_tells_the_two_kinds_apart(toy):
    assert toy.read("你自己去问快递吧") > 0.5 > toy.read("我帮您问一下快递")
    assert all(toy.read(line) > 0.5 for line in PUSHING) and all(toy.read(line) < 0.5 for line in HELPING)


def test_training_is_deterministic_and_the_file_round_trips(toy, tmp_path):
    again = train_meaning_model(PUSHING, HELPING, name="toy", min_count=1)
    assert again.weights == toy.weights and again.bias == toy.bias
    path = tmp_path / "toy.json"
    path.write_text(toy.to_json(), encoding="utf-8")
    loaded = load_meaning_model(str(path))
    assert loaded.name == "toy" and loaded.trained_on["positives"] == len(PUSHING)
    assert loaded.pinyin_sizes == toy.pinyin_sizes == (1, 2) and loaded.ngram_sizes == (1, 2, 3)
    assert loaded.read("你找快递去吧") == pytest.approx(toy.read("你找快递去吧"), abs=1e-4)


def test_features_include_syllables_so_homophones_share_them():
    """ASR writes 在 for 再: the characters differ, the sounds (py:…) do not."""
    said, heard = ngrams("我再帮您查", (1, 2), (1, 2)), ngrams("我在帮您查", (1, 2), (1, 2))
    assert "py:zai bang" in said and {g for g in said if g.startswith("py:")} == {g for g in heard if g.startswith("py:")}
    assert said - heard == {"再", "我再", "再帮"}
    assert not any(g.startswith("py:") for g in ngrams("我再帮您查", (1, 2)))


def test_training_needs_both_kinds():
    with pytest.raises(ValueError, match="both kinds"):
        train_meaning_model(PUSHING, [], name="toy")


def test_a_bad_model_file_is_refused_naming_it(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": 99, "weights": {}}), encoding="utf-8")
    with pytest.raises(MeaningModelError, match=r"broken\.json.*format 99"):
        load_meaning_model(str(broken))
    with pytest.raises(MeaningModelError, match=r"absent\.json: cannot read"):
        load_meaning_model(str(tmp_path / "absent.json"))


def test_sentences_end_at_sentence_marks_spaces_and_segments_not_commas():
    heard = HeardText.of([(0, "这个你找营业厅去，我们管不了。好吗 谢谢"), (1, "再见")], PinyinCoder())
    pieces = [heard.chars[a:b] for a, b in sentence_spans(heard)]
    assert pieces == ["这个你找营业厅去我们管不了", "好吗", "谢谢", "再见"]


@pytest.mark.parametrize("model", ["forbidden-meaning", "complaint-meaning"])
def test_the_shipped_model_is_what_the_script_builds_from_its_sources(tmp_path, model):
    """scripts/train_meaning_model.py rebuilds qcpipe/configs/rules/<model>.json."""
    if not DEV_LABELS.exists():
        pytest.skip("the dev corpus (../shared) is not beside the checkout")
    out = tmp_path / "rebuilt.json"
    subprocess.run([sys.executable, str(REPO / "scripts" / "train_meaning_model.py"), "--model", model, "--out", str(out)],
                   check=True, capture_output=True, text=True)
    rebuilt = json.loads(out.read_text(encoding="utf-8"))
    shipped = json.loads((REPO / "qcpipe" / "configs" / "rules" / f"{model}.json").read_text("utf-8"))
    assert rebuilt["trained_on"] == shipped["trained_on"] and rebuilt["bias"] == pytest.approx(shipped["bias"], abs=1e-3)
    # the same weights; a CPU's own exp() may move one that sits at the prune limit (1e-3) in or out
    grams = rebuilt["weights"].keys() | shipped["weights"].keys()
    assert max(abs(rebuilt["weights"].get(g, 0.0) - shipped["weights"].get(g, 0.0)) for g in grams) < 2e-3


# --- the check's `meaning:` reader, with the default rulebook --------------------------------


def test_a_paraphrase_no_list_holds_is_raised_as_uncertain(rulebook, list_only):
    """A 禁语 in new words is quoted whole and scored; it deducts nothing until confirmed."""
    call = make_call([["agent", 0.0, 6.0, "您好。小学生都知道怎么弄，你不会？"]])
    result = score_call(call, rulebook)
    raised = _raised(result)
    assert len(raised) == 1
    finding = raised[0]
    assert finding.quote == "小学生都知道怎么弄，你不会" and finding.doubt and finding.score >= 0.8
    assert finding.speaker.value == "agent" and not finding.veto
    without = score_call(call, list_only)
    assert not _raised(without)
    assert result.score == without.score  # uncertain: it costs nothing yet


def test_the_reader_leaves_alone_listed_phrases_polite_lines_short_answers_and_the_customer(rulebook):
    listed = score_call(make_call([["agent", 0.0, 5.0, "这不关我的事。"]]), rulebook)
    assert [f.match_kind for f in listed.findings if f.rule_id == "forbidden_phrase"] != [MatchKind.MEANING]
    assert not _raised(listed)
    for line in ("这个问题我帮您核实清楚，请您稍等。", "不用了。", "你是第一次用手机吗"):
        role = "customer" if line.startswith("你是") else "agent"
        assert not _raised(score_call(make_call([[role, 0.0, 5.0, line]]), rulebook)), line


@pytest.mark.parametrize("setting, message, below", [
    ("model: no-such-model", "no-such-model.json: cannot read the meaning model", 0),
    ("model: forbidden-meaning\n      threshold: 1.5", "'threshold': Input should be less than 1", 2),
])
def test_a_bad_meaning_setting_is_refused_naming_the_line(setting, message, below):
    text = (REPO / "configs" / "rules" / "default.yaml").read_text(encoding="utf-8")
    start = text.index("    meaning:\n")
    end = text.index("    phrases:\n", start)
    broken = text[:start] + f"    meaning:\n      {setting}\n" + text[end:]
    with pytest.raises(RulebookError, match=message) as caught:
        parse_rulebook(broken)
    assert caught.value.line == text[:start].count("\n") + 1 + below  # `meaning:`, or the key at fault


def test_the_default_rulebook_loads_the_shipped_models():
    rulebook = load_rulebook()
    assert rulebook.rule("forbidden_phrase").matcher.reader.model.name == "forbidden-meaning"
    for check in ("complaint.apology", "complaint.record", "complaint.followup"):
        assert rulebook.rule(check).matcher.reader.model.name == "complaint-meaning"


def test_real_customer_lines_are_seldom_taken_for_complaints(rulebook):
    """2,000 real customer lines of JD customer-service chats (shared/corpus/real-text): the
    complaint model raises 13 that no trigger phrase is in (0.65 %), about half of them real
    complaints (还不给我保价; 不到一个月就坏了，这种我可忍受不了), the rest questions asked
    with an edge (现在不能申请价格保护吗?). What it raises only makes a missing reply uncertain."""
    lines = json.loads(REAL_TEXT.read_text(encoding="utf-8"))["customer"]
    check = rulebook.rule("complaint.apology").matcher
    raised = [line for line in lines if any(r.raised for r in check.readings(check.trigger.heard([(0, line)])))]
    assert len(lines) == 2000
    assert len(raised) <= 0.01 * len(lines), raised
