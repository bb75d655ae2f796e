"""Search as people use it: the search page, filters, ranking, typos, and `match`."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from kb.articles import load_articles
from kb.search.service import match, run_search
from kb.threads import accept_answer, edit_thread, flag_post, resolve_flag


def hit_titles(query: str, **filters) -> list[str]:
    """Titles of the hits for a query, best first."""
    return [hit.title for hit in run_search(query, **filters).hits]


class PageTags(HTMLParser):
    """Start tags of a page, and the highlighted (<mark>) words of its result snippets."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.in_snippet = False
        self.current = ""
        self.snippet_marks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "p" and dict(attrs).get("class") == "snippet":
            self.in_snippet = True
        self.current = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.in_snippet = False

    def handle_data(self, data: str) -> None:
        if self.in_snippet and self.current == "mark":
            self.snippet_marks.append(data)
            self.current = ""


def parse_page(html: str) -> PageTags:
    parser = PageTags()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture
def corpus(make_thread, make_answer):
    """A few threads with distinct words in title, body, answers and tags."""
    hub = make_thread(
        title="Hub 3 amber light after a thunderstorm",
        body="Since the storm last night the hub shows amber and nothing gets online.",
        tags=["outage", "hub-3"],
    )
    make_answer(hub, body="Check the ONT on the wall first: a red LOS lamp means a line fault.")
    drops = make_thread(
        title="Router drops connection every evening",
        body="Every night around eight the wireless goes away for ten minutes.",
        tags=["wifi"],
    )
    bill = make_thread(
        title="Bill went up in April by five pounds",
        body="Why is my monthly charge higher than the contract summary said?",
        tags=["billing"],
    )
    return {"hub": hub, "drops": drops, "bill": bill}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("thunderstorm", "hub"),  # title
        ("storm online", "hub"),  # question body
        ("LOS lamp", "hub"),  # answer body
        ("outage", "hub"),  # tag only
        ("billing", "bill"),  # tag only, and a word the stemmer changes
        ("contract summary", "bill"),  # body
        ("dropping", "drops"),  # stemming: dropping -> drop <- drops
        ("evenings", "drops"),
    ],
)
def test_threads_are_found_by_title_body_answers_and_tags(corpus, query, expected):
    titles = hit_titles(query)

    assert titles and titles[0] == corpus[expected].title
    others = {t.title for key, t in corpus.items() if key != expected}
    assert not others & set(titles)


def test_search_page_shows_hits_with_highlighted_snippets(client, corpus):
    html = client.get("/search", query_string={"q": "storm"}).get_data(as_text=True)

    page = parse_page(html)
    assert corpus["hub"].title in html
    assert page.snippet_marks == ["storm"]
    assert corpus["bill"].title not in html


def test_html_in_a_post_is_escaped_in_snippets(client, make_thread):
    make_thread(
        title="Odd code shown on my router admin page",
        body="The page printed `<script>alert('pwned')</script>` and `<img src=x onerror=alert(1)>`"
        " next to the router settings.",
        tags=["router"],
    )

    response = client.get("/search", query_string={"q": "pwned onerror"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<mark" in html
    page = parse_page(html)
    assert "script" not in page.tags and "img" not in page.tags[page.tags.index("main") :]
    assert "&lt;script&gt;" in html


def test_tag_filter(make_thread):
    make_thread(title="Wireless keeps dropping in the kitchen", tags=["wifi"])
    make_thread(title="Wireless remote keeps dropping pairing", tags=["remote"])

    assert hit_titles("wireless dropping", tag="remote") == [
        "Wireless remote keeps dropping pairing"
    ]
    assert hit_titles("wireless dropping", tag="wifi") == ["Wireless keeps dropping in the kitchen"]
    assert len(hit_titles("wireless dropping")) == 2


def test_solved_and_unsolved_filters_on_the_search_page(client, make_thread, make_answer):
    solved = make_thread(title="Voicemail greeting will not save on landline")
    answer = make_answer(solved, body="Dial 1571 and choose option 3 to record a new greeting.")
    accept_answer(solved, answer, solved.author)
    open_thread = make_thread(title="Voicemail greeting plays the old message still")

    def titles(state: str) -> str:
        return client.get(
            "/search", query_string={"q": "voicemail greeting", "state": state}
        ).get_data(as_text=True)

    only_solved = titles("solved")
    assert solved.title in only_solved and open_thread.title not in only_solved
    only_open = titles("unsolved")
    assert open_thread.title in only_open and solved.title not in only_open
    both = titles("")
    assert solved.title in both and open_thread.title in both


def test_type_filter_separates_threads_and_articles(app, make_thread):
    content = Path(app.config["CONTENT_DIR"])
    content.mkdir()
    (content / "fix-amber-light.md").write_text(
        "---\ntitle: Fix an amber light on your hub\nslug: fix-amber-light\ntags: hub-3\n"
        "summary: What amber means.\n---\n\nAn amber light means the hub has no line signal.\n",
        encoding="utf-8",
    )
    load_articles(content)
    make_thread(title="Amber light on the hub again today")

    assert hit_titles("amber light", kind="article") == ["Fix an amber light on your hub"]
    assert hit_titles("amber light", kind="thread") == ["Amber light on the hub again today"]
    assert len(hit_titles("amber light")) == 2


def test_solved_thread_ranks_above_an_equally_relevant_unsolved_one(make_thread, make_answer):
    text = {
        "title": "Set top box stuck on the loading screen",
        "body": "The box shows the loading screen forever after the update.",
        "tags": ["tv"],
    }
    answer_text = "Hold the standby button for thirty seconds to reset the box."
    solved = make_thread(**text)
    accept_answer(solved, make_answer(solved, body=answer_text), solved.author)
    unsolved = make_thread(**text)  # created last: no tie-break by age in its favour either
    make_answer(unsolved, body=answer_text)

    hits = run_search("loading screen").hits

    assert [h.db_id for h in hits] == [solved.id, unsolved.id]
    assert hits[0].text_score == pytest.approx(hits[1].text_score)
    assert hits[0].score > hits[1].score


@pytest.mark.parametrize(("typo", "word"), [("conection", "connection"), ("routr", "router")])
def test_misspelled_word_still_finds_the_thread_and_suggests(client, corpus, typo, word):
    result = run_search(f"{typo} evening")

    assert [h.title for h in result.hits][:1] == [corpus["drops"].title]
    assert result.suggestion == f"{word} evening"
    html = client.get("/search", query_string={"q": f"{typo} evening"}).get_data(as_text=True)
    assert "Did you mean" in html and f"{word} evening</a>" in html


def test_a_query_with_no_hits_is_corrected_from_index_words(client, corpus):
    # Two edits away: too far for the fuzzy match, near enough for the suggestion.
    result = run_search("rooutr")

    assert result.corrected_from == "rooutr"
    assert result.query == "router"
    assert [h.title for h in result.hits] == [corpus["drops"].title]
    html = client.get("/search", query_string={"q": "rooutr"}).get_data(as_text=True)
    assert "Showing results for <strong>router</strong>" in html


def test_nonsense_gets_no_suggestion(corpus):
    result = run_search("qqqqzzzz")

    assert result.hits == [] and result.suggestion is None and result.corrected_from is None


HOSTILE = {
    "empty": {"q": ""},
    "punctuation": {"q": "!!!???"},
    "5000 chars": {"q": "router " * 714 + "x"},
    "unbalanced quotes": {"q": "\"router amber 'light"},
    "field syntax": {"q": "title:"},
    "star": {"q": "*"},
    "question mark": {"q": "?"},
    "boolean words": {"q": "AND OR NOT"},
    "open paren": {"q": "("},
    "control chars": {"q": "\x00\x1b router"},
    "rtl": {"q": "\u202eretuor \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"},
    "emoji": {"q": "📶🔥 router 🙃"},
    "50 words": {"q": " ".join(f"word{i}" for i in range(49)) + " router"},
    "page 100000": {"q": "router", "page": "100000"},
    "page 10**30": {"q": "router", "page": "1" + "0" * 30},
    "page junk": {"q": "router", "page": "-3"},
    "tag junk": {"q": "router", "tag": "<script>alert(1)</script>"},
    "tag path": {"q": "router", "tag": "../../etc/passwd"},
    "tag long": {"q": "router", "tag": "a" * 500},
    "state and type junk": {"q": "router", "state": "'; DROP TABLE threads;--", "type": "x"},
    "wildcards and ranges": {"q": "rout* [a TO z] {1 TO 2} ~2 ^5"},
}


@pytest.mark.parametrize("args", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_queries_get_a_normal_page(client, make_thread, args):
    make_thread(title="Router amber light again", tags=["router", "wifi"])

    response = client.get("/search", query_string=args)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'role="search"' in html and 'id="q"' in html
    assert "Something went wrong" not in html
    assert "<script" not in html
    states = ('class="results"', "No answers matched", "Type a few words")
    assert sum(state in html for state in states) == 1


def test_query_is_trimmed_and_cleaned_before_searching(corpus):
    result = run_search("\x00router\x1b\u202e   drops" + " evening" * 1000)

    assert result.query.startswith("router drops evening evening")
    assert len(result.query) <= 500
    assert [h.title for h in result.hits] == [corpus["drops"].title]


def test_hidden_threads_disappear_from_search(make_thread, make_user):
    thread = make_thread(title="Spam about cheap watches and broadband")
    assert hit_titles("cheap watches") == [thread.title]  # warms the searcher
    moderator = make_user(role="moderator")
    flag = flag_post(make_user(), "thread", thread.id, reason="This is spam")

    resolve_flag(flag, moderator, "hide")

    assert hit_titles("cheap watches") == []
    assert hit_titles("broadband") == []


def test_editing_a_title_updates_search(make_thread):
    thread = make_thread(title="Hub 3 amber light after the thunder", tags=["hub-3"])
    assert hit_titles("thunder") == [thread.title]

    edit_thread(
        thread,
        thread.author,
        title="Hub 3 flashing white light tonight",
        body=thread.body_md,
        tags=thread.tag_names,
    )

    assert hit_titles("thunder") == []
    assert hit_titles("flashing white") == ["Hub 3 flashing white light tonight"]
    assert len(run_search("hub").hits) == 1


def test_match_returns_best_hits_with_their_details(app, make_thread, make_answer):
    best = make_thread(
        title="Router drops wifi every evening",
        body="My router drops the wifi every evening at eight.",
        tags=["wifi", "router"],
    )
    accept_answer(best, make_answer(best), best.author)
    other = make_thread(title="New router arrived with a wifi card", body="What is the card for?")
    make_thread(
        title="Bill went up in April", body="My bill is higher this month.", tags=["billing"]
    )

    hits = match("router keeps dropping the wifi in the evening")

    assert [h["id"] for h in hits] == [best.id, other.id]
    first = hits[0]
    assert set(first) >= {"kind", "id", "key", "title", "url", "score"}
    assert first["kind"] == "thread"
    assert first["title"] == best.title
    assert first["key"] is None
    assert first["url"] == f"https://kb.skylark.example/t/{best.id}/router-drops-wifi-every-evening"
    assert first["solved"] is True
    assert hits[0]["score"] > hits[1]["score"] > 0


def test_match_limit_and_empty_text(make_thread):
    for n in range(4):
        make_thread(title=f"Modem question number {n} about lights")

    assert len(match("modem lights", limit=2)) == 2
    assert len(match("modem lights", limit=10)) == 4
    assert match("") == [] and match("   \x00 ") == [] and match(None) == []
