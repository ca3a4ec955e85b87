"""A rule's second reader: a meaning model (`scoring.meaning`) reading the sentences its phrase
list found nothing in. What it raises is uncertain: the rule files it for a monitor to hear, and
it deducts nothing until one confirms it.

Two kinds read so: `forbidden_phrases` (a 禁语 in words the list lacks) and `triggered_response`
(a complaint in words the trigger list lacks).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator

from qcpipe.asr.types import Role
from qcpipe.scoring.matchers.base import Reading
from qcpipe.scoring.matching import HeardText, Match
from qcpipe.scoring.meaning import MeaningModel, MeaningModelError, load_meaning_model, sentence_spans
from qcpipe.scoring.spec import SpecModel


class MeaningSpec(SpecModel):
    """`meaning:`: a second reader for what the rule looks for, in words its list lacks."""

    model: str = Field(description="A shipped meaning model by name (forbidden-meaning, complaint-meaning) or the "
                                   "path of a model file (scoring.meaning; scripts/train_meaning_model.py builds one).")
    threshold: float = Field(0.75, gt=0.5, lt=1, description="How sure the model must be that a sentence reads as what "
                                                            "the rule looks for to raise it (0.5–1).")
    min_chars: int = Field(5, ge=1, description="Sentences with fewer Chinese characters are not read: a short "
                                                "answer (不用了, 这个不行) says too little to judge by its words.")

    @model_validator(mode="after")
    def _model_loads(self) -> MeaningSpec:
        try:
            load_meaning_model(self.model)
        except MeaningModelError as exc:
            raise ValueError(str(exc)) from exc
        return self


class SentenceReader:
    """A `meaning:` in use: its model loaded, each distinct sentence read once (scripted lines
    recur in every call)."""

    def __init__(self, spec: MeaningSpec, role: Role) -> None:
        self.spec = spec
        self.role = role
        self.model: MeaningModel = load_meaning_model(spec.model)
        self._probability = lru_cache(maxsize=50_000)(self.model.probability)

    def readings(self, heard: HeardText, listed: list[Match]) -> list[Reading]:
        """The reading of each sentence of `heard` long enough to judge; a sentence holding one of
        the `listed` matches is never raised (the list has already found it)."""
        result = []
        for start, end in sentence_spans(heard):
            chars = heard.chars[start:end]
            if sum(1 for c in chars if "\u4e00" <= c <= "\u9fff") < self.spec.min_chars:
                continue
            probability = self._probability(chars)
            has_listed = any(m.start < end and m.end > start for m in listed)
            result.append(Reading(start, end, probability, probability >= self.spec.threshold and not has_listed,
                                  self.model.name, self.spec.threshold, self.role))
        return result
