"""The scanners' cheap pre-checks skip work, never a finding: the same spans with and without them, on public sets."""

from __future__ import annotations

import json

from evals.guardrails_data import SHARED_DIR, load_benign_prose, load_independent, load_secret_lines
from guardrails.pii import PiiScanner
from guardrails.secrets import SecretsScanner


def test_the_pii_digit_check_skips_no_entity_of_the_presidio_set() -> None:
    data = json.loads((SHARED_DIR / "presidio_synth_dataset_v2.json").read_text())
    texts = [sample["full_text"] for sample in data]
    quick, full = PiiScanner(), PiiScanner()
    full._needs_digits = False  # the reference: Presidio on every text
    skipped = [t for t in texts if "@" not in t and sum(map(str.isdigit, t)) < 3]
    assert len(texts) == 1500 and len(skipped) > 300  # the check has work to skip
    assert [quick.find(t) for t in texts] == [full.find(t) for t in texts]


def test_the_secrets_word_check_skips_no_secret() -> None:
    lines = [row.text for row in load_secret_lines()]
    lines += [row.text for split in ("dev", "test") for row in load_independent(split)]
    lines += load_benign_prose()
    quick, full = SecretsScanner(), SecretsScanner()
    full._any_word = None  # the reference: every rule's own word test
    assert len(lines) > 20_000
    assert [quick._find(t) for t in lines] == [full._find(t) for t in lines]
