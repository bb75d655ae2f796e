"""The `kb` command (also available as `flask --app kb ...`)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from kb.db import create_schema, db


@click.command("init")
@click.option("--demo", is_flag=True, help="Also create the demo community.")
@with_appcontext
def init_command(demo: bool) -> None:
    """Create the database, load content/ articles and (with --demo) the demo community."""
    from kb.articles import load_articles
    from kb.search.indexer import reindex_all

    started = time.monotonic()
    added = create_schema()
    if added:
        click.echo(f"Database upgraded: added {', '.join(added)}.")
    click.echo("Database ready.")
    counts = load_articles(Path(current_app.config["CONTENT_DIR"]))
    click.echo(
        "Articles: {added} added, {updated} updated, {removed} removed, "
        "{unchanged} unchanged.".format(**counts)
    )
    if demo:
        from kb.demo import DEMO_PASSWORD, load_demo

        users, report = load_demo()
        click.echo(
            f"Demo community: {users} users created, {report.added} threads added, "
            f"{report.updated} updated."
        )
        for line, reason in report.errors:
            click.echo(f"  demo line {line}: {reason}", err=True)
        click.echo(f"Demo logins use the password '{DEMO_PASSWORD}' (staff: sam_skylark).")
    count = reindex_all()
    click.echo(f"Search index built: {count} documents ({time.monotonic() - started:.1f}s).")


@click.command("reindex")
@click.option("--procs", default=1, show_default=True, help="Indexing processes.")
@with_appcontext
def reindex_command(procs: int) -> None:
    """Rebuild the whole search index from the database."""
    from kb.search.indexer import reindex_all

    started = time.monotonic()
    click.echo("Rebuilding the search index...")
    count = reindex_all(procs=procs)
    click.echo(f"Indexed {count} documents in {time.monotonic() - started:.1f}s.")


@click.command("indexer")
@with_appcontext
def indexer_command() -> None:
    """Apply pending index changes continuously (run one beside gunicorn)."""
    from kb.search.indexer import run_forever

    click.echo("Indexer running; Ctrl-C to stop.")
    try:
        run_forever()
    except KeyboardInterrupt:
        pass


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--demo-concierge",
    is_flag=True,
    help="Also start the local X stand-in (port 8787) with demo tweets and the concierge.",
)
@with_appcontext
def serve_command(host: str, port: int, demo_concierge: bool) -> None:
    """Serve the site with the in-process indexer (for production use gunicorn + kb indexer)."""
    from werkzeug.serving import run_simple

    from kb.search.indexer import process_pending, start_thread

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    create_schema()
    process_pending()  # catch up with anything a crash left pending
    start_thread(app)
    standin = None
    if demo_concierge:
        from kb.concierge.demo import start_demo
        from kb.webhooks.worker import start_thread as start_webhook_worker

        standin, _stop = start_demo(app)
        start_webhook_worker(app)
        click.echo("X stand-in on http://127.0.0.1:8787; drafts wait at /concierge (staff).")
    click.echo(f"Concierge KB is running at http://{host}:{port}/  (Ctrl-C to stop)")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if standin is not None:
            standin.terminate()
            standin.wait(10)


@click.group("user")
def user_group() -> None:
    """Manage accounts."""


@user_group.command("create")
@click.argument("name")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["member", "moderator", "staff"]), default="member")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def user_create_command(name: str, email: str, role: str, password_stdin: bool) -> None:
    """Create an account (the first staff account, for example)."""
    from kb.errors import ValidationError
    from kb.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(name, email=email, password=password, role=role)
    except ValidationError as err:
        raise click.ClickException(err.message) from None
    click.echo(f"Created {user.role} '{user.name}'.")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--procs", default=2, show_default=True, help="Processes for rendering and indexing.")
@with_appcontext
def import_command(path: Path, procs: int) -> None:
    """Import threads from a JSON Lines file (one thread per line)."""
    from kb.importer import import_lines

    create_schema()
    started = time.monotonic()
    with path.open(encoding="utf-8", errors="replace") as fh:
        total = sum(1 for _ in fh)
    with path.open(encoding="utf-8", errors="replace") as fh:
        with click.progressbar(length=total, label="Importing", file=sys.stderr) as bar:
            report = import_lines(fh, progress=bar.update, procs=procs)
    for line, reason in report.errors:
        click.echo(f"line {line}: {reason}", err=True)
    click.echo(
        f"Imported {report.added} new and {report.updated} updated threads, "
        f"{report.users_created} new users, {len(report.errors)} bad lines; "
        f"indexed {report.indexed} in {time.monotonic() - started:.1f}s."
    )


@click.command("match")
@click.argument("text", required=False)
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@with_appcontext
def match_command(text: str | None, limit: int, as_json: bool) -> None:
    """The best threads and articles for a question (no TEXT: one question per stdin line)."""
    from kb.db import reading
    from kb.search.service import match

    if text is None:
        for line in sys.stdin:
            with reading():
                hits = match(line.strip(), limit=limit)
                db.session.rollback()
            click.echo(json.dumps(hits, ensure_ascii=False))
        return
    with reading():
        hits = match(text, limit=limit)
    if as_json:
        click.echo(json.dumps(hits, ensure_ascii=False))
        return
    if not hits:
        click.echo("No match.")
    for hit in hits:
        key = f" [{hit['key']}]" if hit["key"] else ""
        click.echo(f"{hit['score']:8.3f}  {hit['kind']:<7} {hit['id']:>6}{key}  {hit['title']}")
        click.echo(f"          {hit['url']}")


@click.command("eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--baseline", is_flag=True, help="Score plain BM25 over titles instead.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def eval_command(path: Path, baseline: bool, as_json: bool) -> None:
    """Score the matcher on {"query", "relevant"} lines: P@1, MRR, nDCG@10, Recall@10, latency."""
    from kb.db import reading
    from kb.errors import ValidationError
    from kb.evaluation import baseline_matcher, evaluate, read_cases
    from kb.search.service import match

    try:
        cases = read_cases(path.read_text(encoding="utf-8").splitlines())
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not UTF-8 text") from None
    except ValidationError as err:
        raise click.ClickException(err.message) from None

    def matcher(text: str) -> list[dict[str, object]]:
        with reading():
            found = baseline_matcher(text) if baseline else match(text, limit=10)
            db.session.rollback()
        return found

    matcher("warm up")  # open the index outside the timings
    result = evaluate(cases, matcher)
    if as_json:
        click.echo(json.dumps({"matcher": "baseline" if baseline else "match", **result.as_dict()}))
        return
    name = "baseline (BM25 over titles)" if baseline else "matcher (kb match)"
    click.echo(f"{name} on {result.queries} queries")
    click.echo(f"  P@1        {result.p_at_1:.3f}")
    click.echo(f"  MRR        {result.mrr:.3f}")
    click.echo(f"  nDCG@10    {result.ndcg_at_10:.3f}")
    click.echo(f"  Recall@10  {result.recall_at_10:.3f}")
    click.echo(
        f"  latency    p50 {result.latency_p50_ms:.1f} ms, p95 {result.latency_p95_ms:.1f} ms"
    )


@click.command("export-articles")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def export_articles_command(directory: Path) -> None:
    """Write published articles as Markdown files with front matter (the content/ format)."""
    from kb.articles import export_articles

    count = export_articles(directory)
    click.echo(f"Wrote {count} articles to {directory}.")


COMMANDS = [
    init_command,
    reindex_command,
    indexer_command,
    serve_command,
    user_group,
    import_command,
    match_command,
    eval_command,
    export_articles_command,
]


def init_app(app: Flask) -> None:
    """Attach the commands to `flask --app kb` (and so to `kb`)."""
    for command in COMMANDS:
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the `kb` console script."""
    from kb import create_app

    cli = FlaskGroup(create_app=create_app, add_default_commands=False, load_dotenv=False)
    cli(prog_name="kb")


if __name__ == "__main__":
    main()
