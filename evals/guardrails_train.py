"""The injection classifier's training and evaluation sets, built only from files in the repository
and the shared data folder, in a fixed order (so `netops guard train` is reproducible).

Attacks: authored injection/jailbreak phrasings (`injection_train.txt`) and the BIPIA text-attack
train split. Benign: authored NOC prompts (`noc_benign_train.txt`), runbook sentences (even-numbered
runbook files; odd-numbered ones are held out for the context false-positive rate) and config lines.
The input head also learns from the *dev* split of the independent public sets in `evals/data/injection/`
(jailbreaks in the wild, DAN, PromptInject; alert texts and ordinary sentences); their *test* split is never
trained on, and is the figure quoted.
"""

from __future__ import annotations

import json
from pathlib import Path

from evals.guardrails_data import LabelledText, load_bipia, load_lines, load_secret_lines
from guardrails.normalize import normalize, segments

__all__ = ["RUNBOOK_DIRS", "independent_injection", "runbook_segments", "train_and_save", "training_examples"]

_ROOT = Path(__file__).resolve().parents[1]
RUNBOOK_DIRS = (_ROOT / "infra" / "demo" / "runbooks", _ROOT.parent / "shared" / "data" / "runbooks")
INDEPENDENT = _ROOT / "evals" / "data" / "injection"


def independent_injection(split: str) -> list[LabelledText]:
    """One split (`dev` or `test`) of the independent injection sets: attacks first, then benign texts."""
    out: list[LabelledText] = []
    for name, attack in (("attacks.jsonl", True), ("benign.jsonl", False)):
        for line in (INDEPENDENT / name).read_text(encoding="utf-8").split("\n"):  # not splitlines: U+2028 is text
            if not line:
                continue
            row = json.loads(line)
            if row["split"] == split:
                out.append(LabelledText(row["text"], attack, row["source"]))
    return out


def runbook_segments(*, held_out: bool) -> list[LabelledText]:
    """Sentence-sized runbook pieces (benign context); `held_out` picks the odd-numbered files."""
    files = sorted(p for d in RUNBOOK_DIRS if d.is_dir() for p in d.rglob("*.md"))
    chosen = files[1::2] if held_out else files[0::2]
    out: list[LabelledText] = []
    for path in chosen:
        for seg in segments(normalize(path.read_text(errors="replace"))):
            if len(seg) >= 20:
                out.append(LabelledText(seg, False, f"runbook:{path.name}"))
    return out


def training_examples(head: str) -> list[LabelledText]:
    """The training examples of one head (`input` or `context`), attacks first, in a fixed order.

    The input head learns direct injections and jailbreaks against NOC requests (which may legitimately
    shape the answer: "in your reply, include the rollback"). The context head also learns that any task
    addressed to the model inside a document (BIPIA, `context_attack_train.txt`) is an attack.
    """
    attacks = load_lines("injection_train.txt", attack=True)
    config = [LabelledText(row.text, False, "config") for row in load_secret_lines() if "\n" not in row.text]
    benign = runbook_segments(held_out=False) + config
    if head == "input":
        return attacks + benign + load_lines("noc_benign_train.txt", attack=False) + independent_injection("dev")
    return attacks + load_bipia("text_attack_train") + load_lines("context_attack_train.txt", attack=True) + benign


# The authored NOC prompts are few beside thousands of jailbreaks and sentences, and they are what the input head
# must pass: each counts three times. Chosen by 5-fold cross-validation on the training examples alone
# (docs/guardrails.md): NOC false blocks 7 -> 3 of 262 for attack recall 0.905 -> 0.898.
NOC_WEIGHT = 3.0


def train_and_save(weights: dict[str, Path]) -> dict[str, dict[str, int]]:
    """Train one hashed n-gram head per entry of `weights` (`input`, `context`) and write each."""
    from guardrails.ngram import HashedNgramClassifier  # noqa: PLC0415 - scikit-learn only when training

    counts: dict[str, dict[str, int]] = {}
    for head, path in weights.items():
        examples = training_examples(head)
        model = HashedNgramClassifier.train(
            [e.text for e in examples],
            [int(e.attack) for e in examples],
            weights=[NOC_WEIGHT if e.source == "noc_benign_train.txt" else 1.0 for e in examples],
        )
        model.save(path)
        attacks = sum(e.attack for e in examples)
        counts[head] = {"attacks": attacks, "benign": len(examples) - attacks}
    return counts
