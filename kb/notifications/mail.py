"""Outgoing email over SMTP: the only module that imports smtplib."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

REQUIRED = ("SMTP_HOST", "SMTP_FROM")


@dataclass
class Mail:
    """One email to send: plain text with an HTML alternative."""

    to: str
    subject: str
    text: str
    html: str


class MailError(Exception):
    """Mail could not be sent: missing settings, or the server failed or refused."""


def missing_settings(config: Mapping[str, Any]) -> list[str]:
    """The KB_SMTP_* settings that must be set before mail can be sent."""
    return [f"KB_{key}" for key in REQUIRED if not config.get(key)]


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML second."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].partition("@")[2] or None)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def send_mails(
    mails: Iterable[Mail],
    config: Mapping[str, Any],
    on_sent: Callable[[Mail], None] | None = None,
) -> tuple[int, list[str]]:
    """Send each mail over one SMTP connection; returns (sent, refused recipients).

    A refused recipient is skipped; anything else wrong raises MailError. `on_sent` is
    called after each mail the server accepted, before the next one is sent.
    """
    missing = missing_settings(config)
    if missing:
        raise MailError(f"Email is not configured: set {', '.join(missing)}.")
    sent, failed = 0, []
    connection: smtplib.SMTP | None = None
    try:
        for mail in mails:
            if connection is None:
                connection = _connect(config)
            try:
                connection.send_message(build_message(mail, config["SMTP_FROM"]))
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
                failed.append(mail.to)
                connection.rset()
            else:
                sent += 1
                if on_sent is not None:
                    on_sent(mail)
    except (smtplib.SMTPException, OSError) as err:
        where = f"{config['SMTP_HOST']}:{config['SMTP_PORT']}"
        raise MailError(f"Could not send through {where} ({sent} sent before): {err}") from err
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()
    return sent, failed


def _connect(config: Mapping[str, Any]) -> smtplib.SMTP:
    # KB_* variables are parsed as JSON when they can be: a numeric password arrives as int.
    connection = smtplib.SMTP(
        str(config["SMTP_HOST"]), int(config["SMTP_PORT"]), timeout=float(config["SMTP_TIMEOUT"])
    )
    try:
        if config.get("SMTP_STARTTLS"):
            connection.starttls(context=ssl.create_default_context())
        if config.get("SMTP_USER"):
            connection.login(str(config["SMTP_USER"]), str(config.get("SMTP_PASSWORD") or ""))
    except BaseException:
        connection.close()
        raise
    return connection
