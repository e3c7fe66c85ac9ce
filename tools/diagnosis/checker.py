"""The answer checker: numbers, states, interfaces and addresses a model's answer attributes to the network
that no tool output supports.

Only sentences that mention a device, an address, an interface or a tool are checked, and in them only
tokens with a clear meaning: a number after a keyword (`distance 20`, `cost 1000`, `AS 65003`, `mtu 1400`)
or before one (`2 peers`), a percentage, a protocol state (`Established`, `Idle`, `Full`, `ExStart`, `down`),
an interface name, an IPv4 address. A claim is supported when the output lines about the sentence's most
specific subject (its address or interface, else its device) contain it; for keyword numbers, when the
number follows the same keyword there. Numbers and addresses that appear in the user's own text are never
flagged (the model may repeat the question).

Left out: prose meaning ("the link is fine"), times and uptimes, numbers without a keyword, paraphrased
states ("not up"). The aim is few false flags, not a proof.

Example:
    check_answer("On r1 the route has distance 2.", ["r1 10.3.0.0/24 selected via bgp (distance 20): ..."],
                 names=["r1", "r2"])
    # [Unsupported(claim='distance 2', reason='tool output says distance 20', sentence=...)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

__all__ = ["Unsupported", "check_answer"]


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A claim in the answer that no tool output supports, why, and the sentence it is in."""

    claim: str
    reason: str
    sentence: str = ""


_KEYWORDS = r"admin distance|distance|cost|metric|(?-i:ASN?)|mtu|hello|dead|hops?|prefix(?:es)? received|max-prefix"
_AFTER = re.compile(rf"\b({_KEYWORDS})(?:\s+(?:of|is|was|set to|=|:))?\s*[:=]?\s*(\d+(?:\.\d+)?)\b", re.IGNORECASE)
_BEFORE = re.compile(r"\b(\d+)\s+(?:[A-Za-z]+\s+)?(peers|neighbors|prefixes|hops|errors|dropped)\b", re.IGNORECASE)
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:%|percent\b)")
_STATES_ANY_CASE = re.compile(r"\b(Established|Idle|ExStart|OpenSent|OpenConfirm|2-Way)\b", re.IGNORECASE)
_STATES_EXACT = re.compile(r"\b(Active|Connect|Full|Exchange|Loading|Init)\b")
_UP_DOWN = re.compile(
    r"\b(?:is|are|was|were|went|goes|stays?|admin(?:istratively)?|oper(?:ationally)?|link|interface|session)"
    r"\s+(down|up)\b",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?)(?![\w]|\.\d)")
_INTERFACE = re.compile(
    r"\b([a-z]+\d+-[a-z]+\d+|(?:eth|ens|enp|eno|bond|vlan|swp|veth)\d[\w.]*"
    r"|(?:GigabitEthernet|TenGigabitEthernet|FastEthernet|Ethernet|Gi|Te|Fa|Et)\d+(?:/\d+)*(?:\.\d+)?"
    r"|(?:ge|xe|et)-\d+/\d+/\d+(?:\.\d+)?)\b"
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True, slots=True)
class _Line:
    """An output line, and the text that says what it is about (its output's first line and itself)."""

    text: str
    about: str


def check_answer(
    answer: str, outputs: Iterable[str], *, question: str = "", names: Iterable[str] = ()
) -> list[Unsupported]:
    """Unsupported claims in `answer`; `names` are the tenant's device and tool names (the sentence anchors)."""
    lines = _lines(outputs)
    names = sorted(set(names), key=len, reverse=True)
    flagged: list[Unsupported] = []
    for sentence in (s.strip() for s in _SENTENCES.split(answer)):
        anchors = _anchors(sentence, names)
        if anchors:
            scoped = _scoped(lines, anchors)
            flagged += _check_sentence(sentence, scoped, lines, question)
    return list(dict.fromkeys(flagged))


def _lines(outputs: Iterable[str]) -> list[_Line]:
    out: list[_Line] = []
    for text in outputs:
        rows = [line.strip() for line in text.splitlines() if line.strip()]
        out += [_Line(row, f"{rows[0]}\n{row}") for row in rows]
    return out


def _name(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)")


def _anchors(sentence: str, names: Sequence[str]) -> list[list[str]]:
    """The sentence's subjects, most specific first: [addresses and interfaces, device and tool names]."""
    specific = [*_ADDRESS.findall(sentence), *_INTERFACE.findall(sentence)]
    general = [n for n in names if _name(n).search(sentence)]
    return [group for group in (specific, general) if group]


def _scoped(lines: list[_Line], anchors: list[list[str]]) -> list[_Line]:
    """The output lines about the most specific anchors that any line is about; all lines when none is."""
    for group in anchors:
        about = [line for line in lines if any(_mentions(line.about, a) for a in group)]
        if about:
            return about
    return lines


def _mentions(text: str, anchor: str) -> bool:
    if "/" in anchor or anchor[0].isdigit():
        return anchor in text or anchor.split("/", maxsplit=1)[0] in text
    return bool(_name(anchor).search(text))


def _check_sentence(sentence: str, scoped: list[_Line], lines: list[_Line], question: str) -> list[Unsupported]:
    everything = "\n".join(line.text for line in lines)
    near = "\n".join(line.text for line in scoped)
    flagged = [*_numbers(sentence, near, everything, question), *_percentages(sentence, near, everything, question)]
    flagged += _states(sentence, near, everything)
    flagged += _names(sentence, everything, question)
    return [replace(u, sentence=sentence) for u in flagged]


def _numbers(sentence: str, near: str, everything: str, question: str) -> Iterator[Unsupported]:
    asked = set(re.findall(r"\d+(?:\.\d+)?", question))
    for pattern, keyword_group, number_group in ((_AFTER, 1, 2), (_BEFORE, 2, 1)):
        for match in pattern.finditer(sentence):
            keyword, number = match.group(keyword_group), match.group(number_group)
            if number in asked:
                continue
            stated = _values(pattern, keyword, near, keyword_group, number_group) or _values(
                pattern, keyword, everything, keyword_group, number_group
            )
            if stated and number not in stated:
                values = ", ".join(sorted(stated, key=float))
                yield Unsupported(match.group(0), f"tool output says {keyword} {values}")
            elif not stated and not re.search(rf"(?<![\w.]){re.escape(number)}(?![\w]|\.\d)", everything):
                yield Unsupported(match.group(0), f"no tool output contains {number}")


def _values(pattern: re.Pattern[str], keyword: str, text: str, keyword_group: int, number_group: int) -> set[str]:
    """The numbers `text` states next to the same keyword."""
    return {m.group(number_group) for m in pattern.finditer(text) if m.group(keyword_group).lower() == keyword.lower()}


def _percentages(sentence: str, near: str, everything: str, question: str) -> Iterator[Unsupported]:
    for match in _PERCENT.finditer(sentence):
        number = match.group(1).removesuffix(".0")
        if number in re.findall(r"\d+(?:\.\d+)?", question):
            continue
        pattern = rf"(?<![\w.]){re.escape(number)}(?:\.0)?\s*%"
        if not re.search(pattern, near) and not re.search(pattern, everything):
            yield Unsupported(match.group(0), f"no tool output shows {number}%")


def _states(sentence: str, near: str, everything: str) -> Iterator[Unsupported]:
    """Protocol states and up/down: supported by the lines about the sentence's subject."""
    labels = re.compile(r"\bup/down\b")
    near, everything = labels.sub("", near), labels.sub("", everything)
    states = [m.group(1) for m in _STATES_ANY_CASE.finditer(sentence)]
    states += [m.group(1) for m in _STATES_EXACT.finditer(sentence)]
    states += [m.group(1).lower() for m in _UP_DOWN.finditer(sentence)]
    for state in dict.fromkeys(states):
        pattern = re.compile(rf"\b{re.escape(state)}\b", re.IGNORECASE)
        if pattern.search(near):
            continue
        where = "no tool output line about this" if pattern.search(everything) else "no tool output"
        yield Unsupported(state, f"{where} says {state}")


def _names(sentence: str, everything: str, question: str) -> Iterator[Unsupported]:
    """Interfaces and addresses that neither the outputs nor the user's text contain."""
    for token in dict.fromkeys([*_INTERFACE.findall(sentence), *_ADDRESS.findall(sentence)]):
        if token not in everything and token not in question:
            kind = "address" if token[0].isdigit() else "interface"
            yield Unsupported(token, f"no tool output mentions {kind} {token}")
