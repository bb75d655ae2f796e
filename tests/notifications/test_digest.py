"""The daily digest: the page, and `kb digest send` over a real SMTP server on loopback."""

from __future__ import annotations

import socket
from datetime import timedelta

from kb.models import utcnow
from kb.notifications import operations as ops
from kb.notifications.digest import digest_threads
from kb.threads import ask_thread
from tests.conftest import login

BODY = "Since this morning the light on my Hub 3 is amber and no device connects."


def smtp_settings(app, sink, **extra) -> None:
    app.config.update(
        SMTP_HOST=sink.host, SMTP_PORT=sink.port, SMTP_FROM="Skylark <kb@skylark.example>",
        SMTP_TIMEOUT=5.0, **extra,
    )  # fmt: skip


def community(make_user, make_thread, make_answer):
    """cat follows router; the tag has fresh, old, answered and cat's own questions."""
    ann, cat = make_user("ann"), make_user("cat")
    fresh = make_thread(author=ann, title="Router keeps dropping the 5 GHz band", tags=["router"])
    ask_thread(ann, title="Router from last week, still open", body=BODY, tags=["router"],
               created=utcnow() - timedelta(hours=30))  # fmt: skip
    answered = make_thread(author=ann, title="Router answered already today", tags=["router"])
    make_answer(answered)
    make_thread(author=cat, title="Router question cat asked herself", tags=["router"])
    make_thread(author=ann, title="Remote question in another tag", tags=["remote"])
    ops.follow_tag(cat, "router")
    return cat, fresh


def test_digest_lists_only_new_unanswered_questions_in_followed_tags(
    make_user, make_thread, make_answer
):
    cat, fresh = community(make_user, make_thread, make_answer)
    assert [t.id for t in digest_threads(cat)] == [fresh.id]


def test_digest_page(client, make_user, make_thread, make_answer):
    community(make_user, make_thread, make_answer)
    login(client, "cat")
    html = client.get("/digest").get_data(as_text=True)
    assert "Router keeps dropping the 5 GHz band" in html
    assert "Router from last week" not in html
    assert "Router answered already" not in html
    assert "Remote question" not in html


def test_digest_page_without_follows_then_with(client, make_user, make_thread):
    make_thread(tags=["router"])
    dan = make_user("dan")
    login(client, "dan")
    assert "don't follow any tags" in client.get("/digest").get_data(as_text=True)
    ops.follow_tag(dan, "router")
    html = client.get("/digest").get_data(as_text=True)
    assert "Hub 3 light is amber" in html


def test_digest_page_nothing_new(client, make_user, make_thread, make_answer):
    make_answer(make_thread(tags=["router"]))
    ops.follow_tag(make_user("dan"), "router")
    login(client, "dan")
    assert "No new unanswered questions" in client.get("/digest").get_data(as_text=True)


def test_digest_page_needs_login(client):
    assert client.get("/digest").status_code == 302


def test_send_emails_each_follower_with_something_new(
    app, runner, smtp_sink, make_user, make_thread, make_answer
):
    community(make_user, make_thread, make_answer)
    ops.follow_tag(make_user("eve"), "remote")  # eve has news too
    quiet = make_user("gus")
    make_answer(make_thread(title="Billing question answered today", tags=["billing"]))
    ops.follow_tag(quiet, "billing")  # gus's only question is answered: no email
    smtp_settings(app, smtp_sink)

    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 2 digests; 1 user had nothing new." in result.output

    by_rcpt = {m.recipients[0]: m for m in smtp_sink.messages}
    assert set(by_rcpt) == {"cat@example.com", "eve@example.com"}
    message = by_rcpt["cat@example.com"].message
    assert message["To"] == "cat@example.com"
    assert message["From"] == "Skylark <kb@skylark.example>"
    assert "1 new unanswered question in your tags" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Router keeps dropping the 5 GHz band" in text
    assert "https://kb.skylark.example/t/" in text
    assert "https://kb.skylark.example/settings" in text
    assert '<a href="https://kb.skylark.example/t/' in html
    assert "Router from last week" not in text
    eve_text = by_rcpt["eve@example.com"].message.get_body(("plain",)).get_content()
    assert "Remote question" in eve_text


def test_send_without_smtp_settings_says_so(runner, make_user, make_thread):
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code != 0
    assert "Email is not configured: set KB_SMTP_HOST, KB_SMTP_FROM" in result.output


def test_send_with_nothing_to_send_does_not_connect(app, runner, make_user):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=9, SMTP_FROM="kb@skylark.example")
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 0 digests" in result.output


def test_unreachable_server_is_a_clear_error(app, runner, make_user, make_thread):
    make_thread(tags=["router"])
    ops.follow_tag(make_user("cat"), "router")
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="kb@skylark.example")
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code != 0
    assert f"Could not send through 127.0.0.1:{port}" in result.output


def test_refused_recipient_is_reported_and_others_still_get_mail(
    app, runner, smtp_sink, make_user, make_thread
):
    make_thread(tags=["router"])
    ops.follow_tag(make_user("cat"), "router")
    ops.follow_tag(make_user("dan"), "router")
    smtp_sink.refuse.add("cat@example.com")
    smtp_settings(app, smtp_sink)
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 1 digest;" in result.output
    assert "refused: cat@example.com" in result.output
    assert [m.recipients for m in smtp_sink.messages] == [["dan@example.com"]]


def test_a_second_run_the_same_day_mails_nobody_twice(
    app, runner, smtp_sink, make_user, make_thread, make_answer
):
    community(make_user, make_thread, make_answer)
    smtp_settings(app, smtp_sink)
    assert "Sent 1 digest;" in runner.invoke(args=["digest", "send"]).output
    make_thread(title="Router question posted after the digest", tags=["router"])

    result = runner.invoke(args=["digest", "send"])

    assert result.exit_code == 0, result.output
    assert "Sent 0 digests; 0 users had nothing new. 1 already had today's digest." in result.output
    assert len(smtp_sink.messages) == 1


def test_the_next_digest_lists_only_what_came_after_the_last(
    app, runner, smtp_sink, make_user, make_thread, make_answer
):
    from kb.db import db
    from kb.notifications.models import DigestLog

    cat, fresh = community(make_user, make_thread, make_answer)
    smtp_settings(app, smtp_sink)
    assert "Sent 1 digest;" in runner.invoke(args=["digest", "send"]).output
    entry = db.session.get(DigestLog, cat.id)
    entry.sent_at = utcnow() - timedelta(hours=21)  # yesterday's digest
    fresh.created = utcnow() - timedelta(hours=22)  # it was in that digest
    db.session.commit()
    make_thread(title="Router question posted since", tags=["router"])

    result = runner.invoke(args=["digest", "send"])

    assert "Sent 1 digest;" in result.output, result.output
    text = smtp_sink.messages[-1].message.get_body(("plain",)).get_content()
    assert "Router question posted since" in text
    assert "Router keeps dropping the 5 GHz band" not in text
