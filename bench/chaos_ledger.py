"""The ledger: every request's answer and every 202 the load was given, to check against the stored state."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Attempt:
    start: float
    end: float
    status: int  # 0: no answer (refused, cut, timed out)
    what: str


@dataclass
class Report:
    id: str
    title: str
    category: str
    reporter: int
    media_ids: list[str]
    at: float  # when its 202 came (monotonic)


@dataclass
class Ledger:
    run: str
    t0: float = field(default_factory=time.monotonic)
    attempts: list[Attempt] = field(default_factory=list)
    reports: dict[str, Report] = field(default_factory=dict)  # 202s
    photos: dict[str, int] = field(default_factory=dict)  # media id -> owner, upload answered 202
    comments: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # id -> (issue, author, body)
    votes: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))  # issue -> voters
    transitions: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    accepted: Counter[str] = field(default_factory=Counter)  # kind -> 202s
    unanswered: Counter[str] = field(default_factory=Counter)  # kind -> no definite answer after retries
    refused: Counter[str] = field(default_factory=Counter)  # "kind status" -> final non-202 answers
    last_answer: dict[str, str] = field(default_factory=dict)  # report title -> the last answer, without a 202
    windows: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def title(self) -> str:
        self.counter += 1
        return f"Chaos {self.run} {self.counter:05d}"
