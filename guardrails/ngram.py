"""The default injection classifier: hashed word and character n-grams under a logistic-regression head.

The only module that imports scikit-learn. Hashing needs no vocabulary, so the weights file holds just
the non-zero weights (a few hundred KB) and loading is instant; scoring 1 KB takes about a millisecond
on one core. `train` is deterministic (fixed solver and seed), so `netops guard train` reproduces the
committed weights from the data in the repository.

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

from guardrails.classifier import InjectionClassifier, register_classifier
from guardrails.errors import PolicyError

__all__ = ["CONTEXT_WEIGHTS", "INPUT_WEIGHTS", "HashedNgramClassifier"]

INPUT_WEIGHTS = Path(__file__).resolve().parent / "data" / "injection_input.npz"
CONTEXT_WEIGHTS = Path(__file__).resolve().parent / "data" / "injection_context.npz"
_BITS = 18


def _vectorizers() -> tuple[HashingVectorizer, HashingVectorizer]:
    common: dict[str, object] = {"n_features": 2**_BITS, "alternate_sign": False, "lowercase": True}
    pattern = r"(?u)\b\w+\b"
    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=pattern, **common)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)
    return words, chars


class HashedNgramClassifier:
    """Logistic regression over hashed word 1-2-grams and character 3-5-grams."""

    name = "hashed-ngram"

    def __init__(self, weights: np.ndarray, bias: float) -> None:
        self._weights = weights.astype(np.float32)
        self._bias = bias
        # scoring repeats `HashingVectorizer.transform` (analyse, hash, L2-normalise each row) without its
        # per-call parameter validation and array checks, most of its time on short texts
        n = 2**_BITS
        self._parts = [(v.build_analyzer(), self._weights[i * n : (i + 1) * n]) for i, v in enumerate(_vectorizers())]
        self._hasher = FeatureHasher(n_features=n, input_type="string", alternate_sign=False)

    def score(self, texts: Sequence[str]) -> list[float]:
        """The probability that each text is an injection (texts scored once each, however often repeated)."""
        unique = list(dict.fromkeys(texts))
        if not unique:
            return []
        logits = np.full(len(unique), self._bias, dtype=np.float64)
        for analyze, weights in self._parts:
            counts = self._hasher.transform(analyze(text) for text in unique)
            norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
            logits += np.divide(counts @ weights, norms, out=np.zeros_like(norms), where=norms > 0)
        by_text = dict(zip(unique, 1.0 / (1.0 + np.exp(-logits)), strict=True))
        return [float(by_text[text]) for text in texts]

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[int], *, c: float = 64.0) -> HashedNgramClassifier:
        """Fit the head on labelled texts (1 = attack); deterministic."""
        words, chars = _vectorizers()
        features = sparse.hstack([words.transform(texts), chars.transform(texts)], format="csr")
        head = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear", random_state=0)
        head.fit(features, np.asarray(labels))
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


@register_classifier("hashed-ngram")
def _make(options: Mapping[str, object]) -> InjectionClassifier:
    return HashedNgramClassifier.load(Path(str(options.get("weights", INPUT_WEIGHTS))))
