"""The SQLAlchemy base, the session, and per-database connection settings."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from flask import Flask, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every table; constraints get stable names on every database."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask) -> None:
    """Bind the database to the app, with SQLite tuned for several processes."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    options: dict[str, Any] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        # Python's sqlite3 would open transactions itself; we issue BEGIN ourselves instead.
        options.setdefault("connect_args", {}).update(
            {"timeout": app.config["SQLITE_BUSY_TIMEOUT"], "isolation_level": None}
        )
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    if url.startswith("sqlite"):
        with app.app_context():
            _tune_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT"])


def _tune_sqlite(engine: Engine, busy_timeout: float) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE for writers."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A reader takes no lock; a writer takes the write lock up front, so a
        # read-then-write never fails half way with "database is locked".
        if _reading.get() or (has_request_context() and request.method in _SAFE_METHODS):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


_reading: ContextVar[bool] = ContextVar("kb_reading", default=False)


@contextmanager
def reading() -> Iterator[None]:
    """Mark read-only work outside a request (kb match, kb eval): no write lock is taken."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


F = TypeVar("F", bound=Callable[..., Any])


def atomic(operation: F) -> F:
    """One operation, one transaction: any error rolls back and releases the write lock."""

    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise

    return run  # type: ignore[return-value]


def create_schema() -> list[str]:
    """Create missing tables, and add columns that newer code has to older tables.

    There are no migration scripts: a database made by an older checkout only ever lacks
    tables and columns (nothing is renamed or dropped), and a new column always has a
    server default or allows NULL, so `ALTER TABLE ... ADD COLUMN` brings it up to date on
    SQLite and PostgreSQL alike. Returns "table.column" for each column added.
    """
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateColumn

    db.create_all()
    engine = db.engine
    added: list[str] = []
    with engine.begin() as conn:
        inspector = inspect(conn)  # on this connection: a second one would wait for its lock
        for table in db.metadata.sorted_tables:
            have = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                if not (column.nullable or column.server_default is not None):
                    raise RuntimeError(
                        f"{table.name}.{column.name} is new and has no default: "
                        "make a fresh database (KB_DATABASE_URL) and import into it"
                    )
                ddl = CreateColumn(column).compile(dialect=engine.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")
                added.append(f"{table.name}.{column.name}")
            for index in table.indexes:
                if any(f"{table.name}.{c.name}" in added for c in index.columns):
                    index.create(conn, checkfirst=True)
    return added
