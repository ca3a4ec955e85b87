"""Reading an agent's sentence for what it says: a 服务禁语 in words no phrase list holds.

The phrase catalogue (`forbidden_phrases`) catches the wordings call centers publish and their
variants. Agents say the same things in endless other words (这事归售后管，你打他们电话吧;
密码是你自己弄丢的，怪谁啊), and a list, however general its patterns, misses about half of
them (tests/scoring/fixtures/forbidden_devset.yaml, the blind rounds). A `MeaningModel` is a second reader: it scores one sentence for how much
it reads like a 禁语 (pushing the caller away, blaming, mocking, ordering, threatening, putting
the agent's own convenience first) rather than like polite or ordinary agent speech.

It is a logistic regression over the sentence's characters 1–3 at a time (with its edges
marked, so 不用了 alone differs from 不用了解) and its syllables 1–2 at a time (so a homophone ASR
wrote, 不关我的数, still sounds like what was said), trained on published 禁语 and paraphrases against
polite wordings and ordinary agent lines (`train_meaning_model`; the shipped model is rebuilt by
scripts/train_meaning_model.py). It knows character patterns, not grammar: it raises a sentence
for a monitor to hear, and the check files what it raises as uncertain (it deducts nothing until
confirmed). The model is data: a JSON file of weights, which a center can retrain on its own lists.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from qcpipe.errors import ConfigError
from qcpipe.scoring.matching import HeardText
from qcpipe.scoring.normalize import normalize, syllable

FORMAT = 1
EDGE = "|"  # marks a sentence's start and end among its n-grams (never a normalised character)
# Where a sentence ends: sentence-final punctuation, and spaces (Whisper and chat transcripts put
# them between sentences). Commas do not end one: "这个你找营业厅去，我们管不了" is one thought.
SENTENCE_BREAK = re.compile(r"[\s。！？；!?;…]+")


class MeaningModelError(ConfigError):
    """A meaning model file is missing or malformed; the message names the file."""


def sentence_spans(heard: HeardText) -> list[tuple[int, int]]:
    """The sentences of heard text as [start, end) spans of its normalised characters: each
    segment is one or more sentences, split where its text has a `SENTENCE_BREAK`."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for text, (_, part) in zip(heard.texts, heard.parts):
        cuts = [0, *(bisect_right(part.source, b.start()) for b in SENTENCE_BREAK.finditer(text)), len(part.chars)]
        spans += [(offset + a, offset + b) for a, b in zip(cuts, cuts[1:]) if b > a]
        offset += len(part.chars)
    return spans


def ngrams(chars: str, sizes: Sequence[int], pinyin_sizes: Sequence[int] = ()) -> set[str]:
    """The distinct features of normalised characters: their n-grams, edges marked, and the
    n-grams of their syllables (`py:bu guan`), so that a homophone ASR wrote (不关我的数) shares
    the sound of the words it stands for."""
    marked = f"{EDGE}{chars}{EDGE}"
    grams = {marked[i:i + n] for n in sizes for i in range(len(marked) - n + 1) if marked[i:i + n] != EDGE}
    if pinyin_sizes:
        sounds = [EDGE, *map(syllable, chars), EDGE]
        grams |= {"py:" + " ".join(sounds[i:i + n]) for n in pinyin_sizes for i in range(len(sounds) - n + 1)
                  if n > 1 or sounds[i] != EDGE}
    return grams


@dataclass(frozen=True)
class MeaningModel:
    """A trained reader: the weight of each character and syllable n-gram, and a bias.

    A sentence's features are its distinct n-grams (`ngrams`), each worth 1/√(their number), so
    long and short sentences weigh alike; `probability` is the logistic of their weighted sum.
    """

    name: str
    ngram_sizes: tuple[int, ...]
    weights: Mapping[str, float]
    bias: float
    trained_on: Mapping[str, int | str]
    pinyin_sizes: tuple[int, ...] = ()

    def probability(self, chars: str) -> float:
        """How much normalised characters read as a 禁语 (0–1)."""
        grams = ngrams(chars, self.ngram_sizes, self.pinyin_sizes)
        if not grams:
            return 1 / (1 + math.exp(-self.bias))
        total = sum(self.weights.get(g, 0.0) for g in grams) / math.sqrt(len(grams))
        return 1 / (1 + math.exp(-(total + self.bias)))

    def read(self, text: str) -> float:
        """`probability` of a sentence as written (it is normalised first)."""
        return self.probability(normalize(text).chars)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "name": self.name, "ngram_sizes": list(self.ngram_sizes),
                           "pinyin_sizes": list(self.pinyin_sizes),
                           "bias": round(self.bias, 6), "trained_on": dict(self.trained_on),
                           "weights": {g: round(w, 5) for g, w in sorted(self.weights.items())}},
                          ensure_ascii=False, indent=0)

    @classmethod
    def from_json(cls, text: str, source: str = "<model>") -> MeaningModel:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            weights = {str(g): float(w) for g, w in data["weights"].items()}
            return cls(name=str(data["name"]), ngram_sizes=tuple(int(n) for n in data["ngram_sizes"]),
                       weights=weights, bias=float(data["bias"]), trained_on=dict(data.get("trained_on", {})),
                       pinyin_sizes=tuple(int(n) for n in data.get("pinyin_sizes", ())))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MeaningModelError(f"{source}: not a meaning model: {exc}") from exc


@lru_cache(maxsize=8)
def load_meaning_model(ref: str) -> MeaningModel:
    """A model by shipped name (`forbidden-meaning`: qcpipe/configs/rules/<name>.json) or by path."""
    from qcpipe.configs import shipped  # the package data folder (imported late: it imports nothing back)

    path = Path(ref) if ref.endswith(".json") or "/" in ref else shipped(f"rules/{ref}.json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MeaningModelError(f"{path}: cannot read the meaning model: {exc.strerror}") from exc
    return MeaningModel.from_json(text, source=str(path))


def train_meaning_model(positives: Iterable[str], negatives: Iterable[str], *, name: str,
                        ngram_sizes: Sequence[int] = (1, 2, 3), pinyin_sizes: Sequence[int] = (1, 2),
                        min_count: int = 2, l2: float = 1e-3,
                        steps: int = 600, learning_rate: float = 0.05, prune: float = 1e-3) -> MeaningModel:
    """Fit the reader on 禁语 (`positives`) against polite and ordinary lines (`negatives`).

    Deterministic (full-batch Adam from zero): the same lines give the same model. Both classes
    weigh the same in the loss however many lines each has. N-grams seen in fewer than
    `min_count` lines are left out, and weights under `prune` dropped from the file.
    """
    pos = [normalize(t).chars for t in positives]
    neg = [normalize(t).chars for t in negatives]
    texts = pos + neg
    if not pos or not neg:
        raise ValueError("training needs lines of both kinds")
    labels = np.array([1.0] * len(pos) + [0.0] * len(neg))
    line_grams = [ngrams(t, ngram_sizes, pinyin_sizes) for t in texts]
    counts = Counter(g for grams in line_grams for g in grams)
    vocabulary = sorted(g for g, c in counts.items() if c >= min_count)
    column = {g: i for i, g in enumerate(vocabulary)}
    # The features as (row, column, value) triples: a line holds a few dozen of the n-grams.
    rows, cols, values = [], [], []
    for row, grams in enumerate(line_grams):
        kept = [column[g] for g in grams if g in column]
        rows += [row] * len(kept)
        cols += kept
        values += [1 / math.sqrt(len(grams))] * len(kept)
    row_of, col_of, value_of = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(values)
    class_weight = np.where(labels == 1, len(labels) / (2 * len(pos)), len(labels) / (2 * len(neg)))
    params = np.zeros(len(vocabulary) + 1)
    first, second = np.zeros_like(params), np.zeros_like(params)
    for step in range(1, steps + 1):
        z = np.bincount(row_of, weights=value_of * params[col_of], minlength=len(texts)) + params[-1]
        error = (1 / (1 + np.exp(-z)) - labels) * class_weight / len(labels)
        gradient = np.append(np.bincount(col_of, weights=value_of * error[row_of], minlength=len(vocabulary))
                             + l2 * params[:-1], error.sum())
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient ** 2
        params -= learning_rate * (first / (1 - 0.9 ** step)) / (np.sqrt(second / (1 - 0.999 ** step)) + 1e-8)
    weights = {g: float(w) for g, w in zip(vocabulary, params[:-1]) if abs(w) >= prune}
    digest = hashlib.sha256("\n".join(["+" + t for t in pos] + ["-" + t for t in neg]).encode()).hexdigest()
    return MeaningModel(name=name, ngram_sizes=tuple(ngram_sizes), pinyin_sizes=tuple(pinyin_sizes), weights=weights,
                        bias=float(params[-1]),
                        trained_on={"positives": len(pos), "negatives": len(neg), "lines_sha256": digest[:16]})
