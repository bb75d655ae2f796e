"""Plain data passed across the search interface."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SearchDoc:
    """What the index knows about one thread or article."""

    kind: str  # "thread" | "article"
    db_id: int
    title: str
    body: str
    answers: str = ""
    alt: str = ""
    tags: list[str] = field(default_factory=list)
    state: str = "open"  # "open" | "solved" | "article"
    accepted_score: int = 0
    boost: float = 0.0

    @property
    def doc_id(self) -> str:
        """The index's unique id: kind and database id."""
        return f"{self.kind}:{self.db_id}"


@dataclass
class SearchHit:
    """One ranked result."""

    kind: str
    db_id: int
    title: str
    score: float
    text_score: float
    state: str
    tags: list[str]
    snippet_html: str = ""
    body_start: str = ""
    body_text: str = field(default="", repr=False)

    @property
    def solved(self) -> bool:
        """Whether the hit is a solved thread."""
        return self.state == "solved"


@dataclass
class SearchResults:
    """A page of hits and what the query turned into."""

    hits: list[SearchHit]
    total: int
    terms: list[str]
    suggestion: str | None = None
