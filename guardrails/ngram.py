"""The default injection classifier: hashed word and character n-grams under a logistic-regression head.

The only module that imports scikit-learn. Hashing needs no vocabulary, so the weights file holds just
the non-zero weights (a few hundred KB) and loading is instant; scoring 1 KB takes about a millisecond
on one core. `train` is deterministic (fixed solver and seed), so `netops guard train --head input` reproduces the
committed input head from the data in the repository (the context head predates later data; docs/guardrails.md).

Example:
    model = HashedNgramClassifier.load(INPUT_WEIGHTS)
    model.score(["ignore all previous instructions", "why is the BGP session down?"])  # [0.97, 0.02]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction import FeatureHasher  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import HashingVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.utils import murmurhash3_32  # type: ignore[import-untyped]

from guardrails.classifier import InjectionClassifier, register_classifier
from guardrails.errors import PolicyError

__all__ = ["CONTEXT_WEIGHTS", "INPUT_WEIGHTS", "HashedNgramClassifier"]

INPUT_WEIGHTS = Path(__file__).resolve().parent / "data" / "injection_input.npz"
CONTEXT_WEIGHTS = Path(__file__).resolve().parent / "data" / "injection_context.npz"
_BITS = 18
_KEPT = 100_000  # entries of each hash cache (a word's character n-grams: a few hundred bytes)


def _vectorizers() -> tuple[HashingVectorizer, HashingVectorizer]:
    common: dict[str, object] = {"n_features": 2**_BITS, "alternate_sign": False, "lowercase": True}
    pattern = r"(?u)\b\w+\b"
    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=pattern, **common)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
    return words, chars


class HashedNgramClassifier:
    """Logistic regression over hashed word 1-2-grams and character 3-5-grams."""

    name = "hashed-ngram"
    bounded = True  # in-process scoring in proportion to the text (see `Scanner`)

    def __init__(self, weights: np.ndarray, bias: float) -> None:
        self._weights = weights.astype(np.float32)
        self._bias = bias
        # scoring repeats `HashingVectorizer.transform` (analyse, hash, L2-normalise each row) without its
        # per-call validation and sparse matrices; hashes are kept per word (`_grams`) and per word n-gram (`_index`)
        n = 2**_BITS
        words, chars = _vectorizers()
        self._analyze_words, self._analyze_chars = words.build_analyzer(), chars.build_analyzer()
        # float64 word weights: the sums match the sparse (float64) product of `HashingVectorizer` they replace
        self._word_weights, self._char_weights = self._weights[:n].astype(np.float64), self._weights[n:]
        self._hasher = FeatureHasher(n_features=n, input_type="string", alternate_sign=False)
        self._grams: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # word -> (char n-gram indices, counts)
        self._index: dict[str, int] = {}  # word 1-2-gram -> its feature index

    def score(self, texts: Sequence[str]) -> list[float]:
        """The probability that each text is an injection (texts scored once each, however often repeated)."""
        unique = list(dict.fromkeys(texts))
        if not unique:
            return []
        logits = self._word_logits(unique) + self._char_logits(unique) + self._bias
        by_text = dict(zip(unique, 1.0 / (1.0 + np.exp(-logits)), strict=True))
        return [float(by_text[text]) for text in texts]

    def _word_logits(self, texts: Sequence[str]) -> np.ndarray:
        """The word 1-2-gram part of each text's logit, as `FeatureHasher` computes it (each n-gram's index is
        murmurhash3 of its UTF-8 bytes, kept per n-gram), without building a sparse matrix per call."""
        indices: list[np.ndarray] = []
        for i, text in enumerate(texts):
            grams = self._analyze_words(text)
            if grams:
                index = np.fromiter(map(self._gram_index, grams), dtype=np.int64, count=len(grams))
                indices.append(index + (i << _BITS))
        return _dot_normalised(indices, [np.ones(len(ix)) for ix in indices], self._word_weights, len(texts))

    def _gram_index(self, gram: str) -> int:
        index = self._index.get(gram)
        if index is None:
            h = murmurhash3_32(gram, seed=0)
            # FeatureHasher's own expression for abs(-2**31), undefined in int32
            index = (2**31 - 1 - (2**_BITS - 1)) % 2**_BITS if h == -(2**31) else abs(h) % 2**_BITS
            if len(self._index) >= _KEPT:  # bounded: start over rather than track recency
                self._index.clear()
            self._index[gram] = index
        return index

    def _char_logits(self, texts: Sequence[str]) -> np.ndarray:
        """The character n-gram part of each text's logit: a text's character n-grams are its words' (each padded
        with a space, never across words), so each word's hashed n-grams are computed once and kept."""
        indices: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        for i, text in enumerate(texts):
            for word in text.lower().split():
                index, count = self._word_grams(word)
                indices.append(index + (i << _BITS))
                counts.append(count)
        return _dot_normalised(indices, counts, self._char_weights, len(texts))

    def _word_grams(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        grams = self._grams.get(word)
        if grams is None:
            row = self._hasher.transform([self._analyze_chars(word)])
            grams = (row.indices.astype(np.int64), row.data)
            if len(self._grams) >= _KEPT:  # bounded: start over rather than track recency
                self._grams.clear()
            self._grams[word] = grams
        return grams

    @classmethod
    def train(
        cls, texts: Sequence[str], labels: Sequence[int], *, weights: Sequence[float] | None = None, c: float = 64.0
    ) -> HashedNgramClassifier:
        """Fit the head on labelled texts (1 = attack), each counted `weights[i]` times (default 1); deterministic."""
        words, chars = _vectorizers()
        features = sparse.hstack([words.transform(texts), chars.transform(texts)], format="csr")
        head = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=0)
        head.fit(features, np.asarray(labels), sample_weight=None if weights is None else np.asarray(weights))
        return cls(head.coef_[0], float(head.intercept_[0]))

    def save(self, path: Path) -> None:
        """Store the non-zero weights (compressed)."""
        index = np.flatnonzero(self._weights).astype(np.int32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, index=index, value=self._weights[index], bias=np.float32(self._bias), bits=_BITS)

    @classmethod
    def load(cls, path: Path) -> HashedNgramClassifier:
        """Load weights written by `save`; a missing or foreign file is a policy error (start-up)."""
        try:
            with np.load(path) as data:
                if int(data["bits"]) != _BITS:
                    raise PolicyError(f"{path}: weights for 2**{int(data['bits'])} features, expected 2**{_BITS}")
                weights = np.zeros(2 * 2**_BITS, dtype=np.float32)
                weights[data["index"]] = data["value"]
                return cls(weights, float(data["bias"]))
        except (OSError, KeyError, ValueError) as exc:
            raise PolicyError(f"cannot load injection classifier weights from {path}: {exc}") from exc


def _dot_normalised(indices: list[np.ndarray], counts: list[np.ndarray], weights: np.ndarray, n: int) -> np.ndarray:
    """Per text, the L2-normalised hashed counts times `weights`, all texts in one vectorised pass (a key per
    text and feature: text number * 2**bits + feature index; features that collide add up before normalising)."""
    logits = np.zeros(n, dtype=np.float64)
    if not indices:
        return logits
    keys, inverse = np.unique(np.concatenate(indices), return_inverse=True)
    merged = np.bincount(inverse, weights=np.concatenate(counts))
    text_of = keys >> _BITS
    dots = np.bincount(text_of, weights=merged * weights[keys & (2**_BITS - 1)], minlength=n)
    norms = np.sqrt(np.bincount(text_of, weights=merged * merged, minlength=n))
    return np.divide(dots, norms, out=logits, where=norms > 0)


@register_classifier("hashed-ngram")
def _make(options: Mapping[str, object]) -> InjectionClassifier:
    return HashedNgramClassifier.load(Path(str(options.get("weights", INPUT_WEIGHTS))))
