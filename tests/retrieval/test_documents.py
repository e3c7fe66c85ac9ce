"""Markdown chunking by headings, with front matter and heading paths."""

from __future__ import annotations

from retrieval import chunk_markdown

DOC = """---
title: BGP down
tenant: acme
sensitivity: internal
tags: [bgp]
---

# BGP down

Intro.

## Diagnosis

Run bgp_summary.

### Hold timer

Check loss.
"""


def test_chunks_keep_heading_path_and_metadata() -> None:
    chunks = list(chunk_markdown(DOC, "runbooks/net/bgp.md", max_chars=500))
    assert [c.heading for c in chunks] == ["BGP down", "BGP down > Diagnosis", "BGP down > Diagnosis > Hold timer"]
    assert {c.tenant for c in chunks} == {"acme"} and chunks[0].sensitivity == "internal"
    assert chunks[0].tags == ("bgp",)
    assert len({c.chunk_id for c in chunks}) == 3


def test_long_sections_are_split_under_the_limit() -> None:
    body = "# T\n\n" + "\n\n".join("word " * 60 for _ in range(10))
    chunks = list(chunk_markdown(body, "x.md", max_chars=400))
    assert len(chunks) > 3 and all(len(c.text) <= 400 for c in chunks)


def test_hidden_index_pages_are_skipped() -> None:
    assert list(chunk_markdown("---\nbookHidden: true\n---\n# x\n", "x/_index.md", max_chars=400)) == []


def test_every_chunk_carries_the_documents_readable_title() -> None:
    text = "# KubePodNotReady\n\n## Mitigation\n\nRestart the deployment.\n"
    chunks = list(chunk_markdown(text, "runbooks/KubePodNotReady.md", max_chars=1200))
    assert [c.heading for c in chunks] == ["KubePodNotReady > Mitigation"]
    assert chunks[0].embed_text.startswith("Kube Pod Not Ready | KubePodNotReady > Mitigation\n")
    titled = list(chunk_markdown("---\ntitle: BGP session down\n---\nSome text.\n", "runbooks/bgp.md", max_chars=1200))
    assert titled[0].embed_text == "BGP session down\nSome text."
