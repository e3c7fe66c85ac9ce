"""Ingest: reStructuredText, HTML and plain text, sidecar metadata, rejected files, progress."""

from __future__ import annotations

from pathlib import Path

from retrieval import scan
from retrieval.formats import to_markdown

RST = """Router high CPU
===============

Intro text.

Diagnosis
---------

Run ``bgp_summary``.

Details
~~~~~~~

More.
"""

HTML = """<html><head><title>DNS failure</title><style>p {color: red}</style></head>
<body><h1>DNS failure</h1><p>Clients cannot resolve.</p><h2>Diagnosis</h2><ul><li>Run dns_lookup.</li></ul>
<script>alert(1)</script></body></html>"""


def test_rst_titles_become_heading_levels_by_adornment() -> None:
    text = to_markdown(RST, ".rst")
    assert "# Router high CPU" in text and "## Diagnosis" in text and "### Details" in text


def test_html_headings_and_text_without_scripts() -> None:
    text = to_markdown(HTML, ".html")
    assert "# DNS failure" in text and "## Diagnosis" in text and "Run dns_lookup." in text
    assert "alert(1)" not in text and "color" not in text


def test_scan_reads_every_format_with_sidecar_metadata(tmp_path: Path) -> None:
    src = tmp_path / "ops"
    src.mkdir()
    (src / "cpu.rst").write_text(RST)
    (src / "cpu.rst.meta.yaml").write_text("tenant: acme\nsensitivity: confidential\ntags: [cpu]\nowner: neteng\n")
    (src / "dns.html").write_text(HTML)
    (src / "notes.txt").write_text("Plain text notes about traceroute.")
    seen: list[tuple[int, int]] = []
    corpus = scan([src], max_chars=500, progress=lambda done, total, _: seen.append((done, total)))
    by_path = {c.path: c for c in corpus.chunks}
    assert set(by_path) == {"ops/cpu.rst", "ops/dns.html", "ops/notes.txt"}
    cpu = [c for c in corpus.chunks if c.path == "ops/cpu.rst"]
    assert {c.heading for c in cpu} >= {"Router high CPU > Diagnosis > Details"}
    assert {(c.tenant, c.sensitivity, c.owner, c.tags) for c in cpu} == {("acme", "confidential", "neteng", ("cpu",))}
    assert by_path["ops/notes.txt"].heading == "notes"
    assert seen[-1] == (3, 3) and set(corpus.documents) == set(by_path)


def test_unreadable_files_are_rejected_with_a_reason_and_the_scan_carries_on(tmp_path: Path) -> None:
    src = tmp_path / "ops"
    src.mkdir()
    (src / "binary.md").write_bytes(b"\xff\xfe\x00garbage")
    (src / "badmeta.md").write_text("---\ntenant: [unclosed\n---\n# x\n\nbody\n")
    (src / "badlevel.md").write_text("---\nsensitivity: top-secret\n---\n# x\n\nbody\n")
    (src / "good.md").write_text("# Good\n\nBody.\n")
    corpus = scan([src], max_chars=500)
    reasons = {r.path: r.reason for r in corpus.rejected}
    assert reasons["ops/binary.md"] == "not UTF-8 text"
    assert reasons["ops/badmeta.md"] == "invalid YAML metadata"
    assert "top-secret" in reasons["ops/badlevel.md"]
    assert [c.path for c in corpus.chunks] == ["ops/good.md"]
