"""Retry classes: by SQLSTATE / MySQL error number; an error without a code is transient only
when its text says the connection was lost (issue 17, item 9)."""

from __future__ import annotations

import pytest

from rivet.sources import mysql_errors, pg_errors


@pytest.mark.parametrize(
    "sqlstate,text,transient",
    [
        (None, "", False),
        (None, "something unexpected", False),
        (None, "server closed the connection unexpectedly", True),
        (None, "Connection refused", True),
        ("40001", "could not serialize access", True),
        ("40P01", "deadlock detected", True),
        ("57P01", "terminating connection due to administrator command", True),
        ("53300", "too many clients", True),
        ("57014", "canceling statement due to statement timeout", False),
        ("08P01", "server does not support SSL", False),
        ("3D000", "database does not exist", False),
        ("28P01", "password authentication failed", False),
        ("42601", "syntax error", False),
        ("42P01", "relation does not exist", False),
    ],
)
def test_postgres_classes(sqlstate: str | None, text: str, transient: bool) -> None:
    assert pg_errors.is_transient(sqlstate, text) is transient


@pytest.mark.parametrize(
    "text,sqlstate",
    [
        ('FATAL:  database "nodb" does not exist', "3D000"),
        ('FATAL:  role "nobody" does not exist', "28000"),
        ('FATAL:  password authentication failed for user "u"', "28P01"),
        ("server does not support SSL, but SSL was required", "08P01"),
        ("FATAL:  sorry, too many clients already", "53300"),
        ("FATAL:  the database system is starting up", "57P03"),
        ("Connection refused", None),
    ],
)
def test_postgres_connect_failures_get_their_sqlstate(text: str, sqlstate: str | None) -> None:
    class Refused(Exception):
        pass

    error = pg_errors.source_error(Refused(f"connection failed: {text}"), "e", connecting=True)
    assert error.sqlstate == sqlstate
    assert error.transient is (sqlstate in (None, "53300", "57P03"))


@pytest.mark.parametrize(
    "errno,text,transient",
    [
        (None, "", False),
        (None, "DriverError { Could not connect: Connection refused (os error 111) }", True),
        (None, "CodecError { IO error: `bytes remaining on stream' }", True),
        # KILL CONNECTION while the server still executes the statement (seen in CI)
        (None, "MySQL error: IoError { server disconnected }", True),
        (None, "failed to lookup address information: Name or service not known", False),
        (2013, "Lost connection to MySQL server during query", True),
        (1213, "Deadlock found", True),
        (1045, "Access denied", False),
        (1049, "Unknown database", False),
        (1064, "syntax", False),
        (1969, "Query execution was interrupted (max_statement_time exceeded)", False),
        (2003, "Can't connect ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed)", False),
        (2026, "SSL connection error: error:0A000086", False),
    ],
)
def test_mysql_classes(errno: int | None, text: str, transient: bool) -> None:
    assert mysql_errors.is_transient(errno, text) is transient
