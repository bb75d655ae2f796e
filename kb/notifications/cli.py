"""`kb digest send`: email the daily digest."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("digest")
def digest_group() -> None:
    """The daily digest of new unanswered questions in followed tags."""


@digest_group.command("send")
@with_appcontext
def send_command() -> None:
    """Email each tag follower the new unanswered questions of the last 24 hours."""
    from kb.notifications.digest import send_digests
    from kb.notifications.mail import MailError, missing_settings

    missing = missing_settings(current_app.config)
    if missing:
        raise click.ClickException(
            f"Email is not configured: set {', '.join(missing)} (see README, Settings)."
        )
    try:
        report = send_digests()
    except MailError as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"Sent {report.sent} digest{'' if report.sent == 1 else 's'}; "
        f"{report.skipped} user{'' if report.skipped == 1 else 's'} had nothing new."
        + (f" {report.already} already had today's digest." if report.already else "")
    )
    for address in report.failed:
        click.echo(f"  refused: {address}", err=True)
