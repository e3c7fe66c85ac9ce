"""The eval suite behind `netops eval run | gate | baseline` (docs/evals.md).

golden.py         the golden NOC cases (evals/data/golden/*.yaml)
deterministic.py  the deterministic tier (no model)
stack.py          the platform a tier runs against (index, services, the gateway on a free port)
answers.py        the quality tier's answers through the gateway, with deterministic checks
quality.py        ragas scores (the one module that imports ragas)
tiers.py          each tier, start to end
results.py        per-case results and metrics; gate.py the comparison; baseline.py the committed file;
report.py         table, JSON and Markdown; changes.py what CI runs for a change
"""

__all__: list[str] = []
