"""The injection-classifier contract and its registry: a CPU model by default, a GPU one by configuration.

A classifier scores texts: the probability that each is a prompt injection or jailbreak (0..1).
It must be cheap to call once per request with a batch of segments. Built-ins and plugins register
the same way; the policy names one (`classifier: hashed-ngram`) and unknown names fail at start-up.

Example:
    @register_classifier("my-gpu-model")
    def _make(options: Mapping[str, object]) -> InjectionClassifier:
        return MyGpuClassifier(str(options["model_path"]))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from guardrails.errors import PolicyError

__all__ = ["ClassifierFactory", "InjectionClassifier", "build_classifier", "register_classifier"]


class InjectionClassifier(Protocol):
    """Scores texts for prompt injection; higher is more likely an attack."""

    name: str

    def score(self, texts: Sequence[str]) -> list[float]:
        """One probability per text, in order."""
        ...


ClassifierFactory = Callable[[Mapping[str, object]], InjectionClassifier]
_CLASSIFIERS: dict[str, ClassifierFactory] = {}


def register_classifier(name: str) -> Callable[[ClassifierFactory], ClassifierFactory]:
    """Register a classifier factory under `name`."""

    def decorate(factory: ClassifierFactory) -> ClassifierFactory:
        _CLASSIFIERS[name] = factory
        return factory

    return decorate


def build_classifier(name: str, options: Mapping[str, object]) -> InjectionClassifier:
    """Build a registered classifier; an unknown name is a policy error."""
    try:
        factory = _CLASSIFIERS[name]
    except KeyError:
        known = ", ".join(sorted(_CLASSIFIERS))
        raise PolicyError(f"unknown injection classifier {name!r}; known: {known}") from None
    return factory(options)
