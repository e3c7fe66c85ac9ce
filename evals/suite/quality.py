"""The quality tier's second half: ragas scores of the golden answers (the one module that imports ragas).

With a judge (a gateway route: a vLLM or hosted deployment in real use, the embedded model by default), each
answered case gets ragas' LLM metrics through ragas' `InstructorLLM` over the OpenAI client pointed at the gateway,
in instructor's JSON_SCHEMA mode: each judge request carries the verdict's JSON Schema as `response_format`, which
the gateway hands to the deployment (vLLM's structured outputs, llama.cpp's grammar), so even a small judge answers
in the shape ragas parses. (`llm_factory` would pick instructor's JSON mode: the schema only as prompt text.)

    faithfulness        the answer's statements are supported by the excerpts the model saw
    answer_relevancy    questions generated back from the answer resemble the question (MiniLM embeddings)
    context_precision   the excerpts are relevant to the reference answer, best first
    context_recall      the reference answer's statements are found in the excerpts

Always (no judge needed), ragas' non-LLM metrics against the case's references:

    rouge_l                 ROUGE-L F1 of the answer against the reference answer
    string_similarity       1 - normalised Levenshtein distance, answer against reference
    context_overlap_precision / context_overlap_recall
                            the excerpts against the expected runbooks' own chunks (string similarity >= 0.5)

A judge answer ragas cannot parse (or a NaN, or a judge request the gateway refused) leaves the score `None`
with the note `unparsed: ...`: it is counted and reported, never averaged in.

Example:
    score_quality(rows, references, judge=Judge(url, key, "smollm2"), embedder=svc_embedder)
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import instructor
import openai
import pydantic
from instructor.core.exceptions import InstructorError
from ragas.dataset_schema import SingleTurnSample
from ragas.embeddings.base import BaseRagasEmbedding
from ragas.llms import InstructorLLM
from ragas.metrics import NonLLMContextPrecisionWithReference, NonLLMContextRecall
from ragas.metrics.collections import (
    AnswerRelevancy,
    ContextPrecision,
    ContextRecall,
    Faithfulness,
    NonLLMStringSimilarity,
    RougeScore,
)

from evals.suite.results import CaseResult
from retrieval import Embedder

__all__ = ["JUDGE_METRICS", "OVERLAP_METRICS", "Judge", "score_quality"]

JUDGE_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
OVERLAP_METRICS = ("rouge_l", "string_similarity", "context_overlap_precision", "context_overlap_recall")
_UNPARSED = (InstructorError, pydantic.ValidationError, ValueError, KeyError, TypeError, IndexError)


@dataclass(frozen=True, slots=True)
class Judge:
    """Where the judge is: an OpenAI-compatible `/v1` URL (a gateway), a key, and the route (model) to use."""

    url: str
    key: str
    route: str
    max_tokens: int = 256
    cases: int | None = None  # judge only the first N answered cases (time on a CPU model); None: all


def score_quality(
    rows: Sequence[CaseResult],
    references: Mapping[str, Sequence[str]],
    *,
    judge: Judge | None,
    embedder: Embedder,
    reference_answers: Mapping[str, str],
) -> None:
    """Add the scores to each answered case's `scores` (and `notes` for those not computed)."""
    asyncio.run(_score_all(rows, references, judge, embedder, reference_answers))


async def _score_all(
    rows: Sequence[CaseResult],
    references: Mapping[str, Sequence[str]],
    judge: Judge | None,
    embedder: Embedder,
    answers: Mapping[str, str],
) -> None:
    scorable = [r for r in rows if r.kind == "answer" and r.checks.get("answered") and r.detail.get("contexts")]
    for row in scorable:
        await _overlap(row, answers.get(row.id, ""), list(references.get(row.id, ())))
    if judge is None:
        return
    metrics = _judge_metrics(judge, embedder)
    limit = len(scorable) if judge.cases is None else judge.cases
    for n, row in enumerate(scorable):
        for name in JUDGE_METRICS:
            if n >= limit:
                row.scores[name] = None
                row.notes[name] = f"skipped: judged the first {limit} cases"
                continue
            await _judged(row, name, metrics[name], answers.get(row.id, ""))


async def _overlap(row: CaseResult, reference: str, reference_contexts: list[str]) -> None:
    answer, contexts = str(row.detail["answer"]), list(row.detail["contexts"])
    if reference:
        rouge = await RougeScore(rouge_type="rougeL").ascore(reference=reference, response=answer)
        similarity = await NonLLMStringSimilarity().ascore(reference=reference, response=answer)
        row.scores["rouge_l"], row.scores["string_similarity"] = _value(rouge.value), _value(similarity.value)
    if reference_contexts:
        sample = SingleTurnSample(retrieved_contexts=contexts, reference_contexts=reference_contexts)
        precision = await NonLLMContextPrecisionWithReference().single_turn_ascore(sample)
        recall = await NonLLMContextRecall().single_turn_ascore(sample)
        row.scores["context_overlap_precision"] = _value(precision)
        row.scores["context_overlap_recall"] = _value(recall)


Scorer = Callable[[CaseResult, str], Awaitable[Any]]


def _judge_metrics(judge: Judge, embedder: Embedder) -> dict[str, Scorer]:
    client = openai.AsyncOpenAI(base_url=judge.url, api_key=judge.key, max_retries=0, timeout=180)
    constrained = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)
    llm = InstructorLLM(constrained, judge.route, "openai", max_tokens=judge.max_tokens, max_retries=1)
    faith, relevancy = Faithfulness(llm=llm), AnswerRelevancy(llm=llm, embeddings=_Embeddings(embedder), strictness=1)
    precision, recall = ContextPrecision(llm=llm), ContextRecall(llm=llm)

    def contexts(row: CaseResult) -> list[str]:
        return list(row.detail["contexts"])

    return {
        "faithfulness": lambda row, ref: faith.ascore(
            user_input=row.detail["question"], response=row.detail["answer"], retrieved_contexts=contexts(row)
        ),
        "answer_relevancy": lambda row, ref: relevancy.ascore(
            user_input=row.detail["question"], response=row.detail["answer"]
        ),
        "context_precision": lambda row, ref: precision.ascore(
            user_input=row.detail["question"], reference=ref, retrieved_contexts=contexts(row)
        ),
        "context_recall": lambda row, ref: recall.ascore(
            user_input=row.detail["question"], retrieved_contexts=contexts(row), reference=ref
        ),
    }


async def _judged(row: CaseResult, name: str, scorer: Scorer, reference: str) -> None:
    """One judged score; whatever the judge's answer, a failure to parse it is a note, never a number."""
    try:
        result = await scorer(row, reference)
    except (openai.APIError, *_UNPARSED) as exc:
        row.scores[name] = None
        row.notes[name] = _reason(exc)
        return
    value = _value(result.value)
    row.scores[name] = value
    if value is None:
        row.notes[name] = "unparsed: NaN"


def _reason(exc: BaseException) -> str:
    """Why a judged score is missing: `unparsed: ...` (the judge's answer, or its refusal) or `error: ...`
    (the judge could not be reached), looking through instructor's retry wrapper for the HTTP error."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, openai.APIStatusError):
            refused = "guardrail" in str(seen.body)
            return f"unparsed: {'judge request refused by guardrails' if refused else f'judge HTTP {seen.status_code}'}"
        if isinstance(seen, openai.APIConnectionError):
            return f"error: judge unreachable ({type(seen).__name__})"
        seen = getattr(seen, "last_exception", None) or seen.__cause__ or seen.__context__
    return f"unparsed: {type(exc).__name__}"


def _value(raw: object) -> float | None:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else round(value, 4)


class _Embeddings(BaseRagasEmbedding):
    """The platform's MiniLM embedder behind ragas' embeddings interface (no second copy of the model)."""

    def __init__(self, embedder: Embedder) -> None:
        super().__init__()
        self._embedder = embedder

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self._embedder.embed([text])[0]

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        return await asyncio.to_thread(self.embed_text, text)

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self._embedder.embed(texts)

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_texts, texts)
