"""The BM25-style sparse vectors."""

from __future__ import annotations

from retrieval.lexical import bm25_vector, query_vector, tokens


def test_camel_case_names_are_kept_whole_and_split() -> None:
    assert tokens("KubePodCrashLooping fired") == ["kubepodcrashloop", "kube", "pod", "crash", "loop", "fired"]


def test_stop_words_dropped_and_weights_saturate() -> None:
    once, many = bm25_vector("bgp", avg_len=1.0), bm25_vector("bgp " * 50, avg_len=50.0)
    assert once.indices == many.indices and 0 < once.values[0] < many.values[0] < 2.2
    assert query_vector("the of and").indices == []
