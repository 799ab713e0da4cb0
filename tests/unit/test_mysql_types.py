"""MySQL -> Arrow mapping: one case per type family (reference 8.2, defects of 15 fixed)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rivet.config.column_types import parse_column_type
from rivet.core.errors import TypeMappingError
from rivet.sources import mysql_types as t
from rivet.sources.mysql_errors import source_error
from rivet.sources.mysql_types import MyColumn, decimal_precision, plan_column
from rivet.sources.normalize import normalize, select_list, target_schema

TEXT, BINARY = 45, 63
U = t.UNSIGNED_FLAG


@pytest.mark.parametrize(
    ("column", "arrow_type", "select", "conversion"),
    [
        (MyColumn("c", t.TINY, 0, BINARY, 1), pa.bool_(), "_rivet.`c`", "boolean_01"),
        (MyColumn("c", t.TINY, 0, BINARY, 4), pa.int8(), "_rivet.`c`", "none"),
        (MyColumn("c", t.TINY, U, BINARY, 3), pa.uint8(), "_rivet.`c`", "none"),
        (MyColumn("c", t.SHORT, U, BINARY, 5), pa.uint16(), "_rivet.`c`", "none"),
        (MyColumn("c", t.INT24, 0, BINARY, 9), pa.int32(), "_rivet.`c`", "none"),
        (MyColumn("c", t.LONG, U, BINARY, 10), pa.uint32(), "_rivet.`c`", "none"),
        (MyColumn("c", t.LONGLONG, U, BINARY, 20), pa.uint64(), "_rivet.`c`", "none"),
        (MyColumn("c", t.FLOAT), pa.float32(), "_rivet.`c`", "none"),
        (MyColumn("c", t.DOUBLE), pa.float64(), "_rivet.`c`", "none"),
        (
            MyColumn("c", t.NEWDECIMAL, 0, BINARY, 12, 2),
            pa.decimal128(10, 2),
            "CAST(_rivet.`c` AS CHAR)",
            "decimal",
        ),
        (
            MyColumn("c", t.NEWDECIMAL, 0, BINARY, 67, 30),
            pa.decimal256(65, 30),
            "CAST(_rivet.`c` AS CHAR)",
            "decimal",
        ),
        (
            MyColumn("c", t.DATE),
            pa.date32(),
            "IF((MONTH(_rivet.`c`) = 0 OR DAYOFMONTH(_rivet.`c`) = 0), NULL, _rivet.`c`)",
            "none",
        ),
        (
            MyColumn("c", t.DATETIME),
            pa.timestamp("us"),
            "IF((MONTH(_rivet.`c`) = 0 OR DAYOFMONTH(_rivet.`c`) = 0), NULL, _rivet.`c`)",
            "none",
        ),
        (
            MyColumn("c", t.TIMESTAMP),
            pa.timestamp("us", tz="UTC"),
            "CAST(UNIX_TIMESTAMP(_rivet.`c`) * 1000000 AS SIGNED)",
            "epoch_micros_utc",
        ),
        (
            MyColumn("c", t.TIME),
            pa.duration("us"),
            "CAST(TIME_TO_SEC(_rivet.`c`) * 1000000 AS SIGNED)",
            "micros_duration",
        ),
        (MyColumn("c", t.YEAR), pa.int16(), "_rivet.`c`", "none"),
        (MyColumn("c", t.BIT, U, BINARY, 1), pa.bool_(), "CAST(_rivet.`c` AS UNSIGNED)", "none"),
        (MyColumn("c", t.BIT, U, BINARY, 12), pa.int64(), "CAST(_rivet.`c` AS UNSIGNED)", "none"),
        (MyColumn("c", t.BIT, U, BINARY, 64), pa.uint64(), "CAST(_rivet.`c` AS UNSIGNED)", "none"),
        (MyColumn("c", t.STRING, t.ENUM_FLAG, TEXT), pa.string(), "_rivet.`c`", "none"),
        (MyColumn("c", t.STRING, t.SET_FLAG, TEXT), pa.string(), "_rivet.`c`", "none"),
        (MyColumn("c", t.JSON, 0, TEXT), pa.string(), "_rivet.`c`", "none"),
        (MyColumn("c", t.VAR_STRING, 0, TEXT, 80), pa.string(), "_rivet.`c`", "none"),
        (MyColumn("c", t.BLOB, 0, TEXT), pa.string(), "_rivet.`c`", "none"),
        (MyColumn("c", t.BLOB, 0, BINARY), pa.binary(), "_rivet.`c`", "none"),
        (MyColumn("c", t.STRING, 0, BINARY, 4), pa.binary(), "_rivet.`c`", "none"),
        (MyColumn("c", t.GEOMETRY, 0, BINARY), pa.binary(), "ST_AsBinary(_rivet.`c`)", "none"),
    ],
)
def test_mapping(column: MyColumn, arrow_type: pa.DataType, select: str, conversion: str) -> None:
    plan = plan_column(column)
    assert plan.arrow_type == arrow_type
    assert plan.select_sql == f"{select} AS `c`"
    assert plan.conversion == conversion


def test_zero_dates_are_guarded_only_on_a_page_the_driver_refused() -> None:
    date = plan_column(MyColumn("c", t.DATE))
    assert date.guard_sql == "(MONTH(_rivet.`c`) = 0 OR DAYOFMONTH(_rivet.`c`) = 0)"
    assert date.lean_sql == "_rivet.`c` AS `c`"
    lean = select_list([date], lambda name: f"`{name}`", lean=True)
    guarded = select_list([date], lambda name: f"`{name}`", lean=False)
    assert lean == ["_rivet.`c` AS `c`"]
    assert guarded == [date.select_sql, f"({date.guard_sql}) AS `_rivet_guard_0`"]
    # Values ConnectorX reads without complaint are checked in Arrow instead of per row in SQL.
    for column in (MyColumn("c", t.TINY, 0, BINARY, 1), MyColumn("c", t.TIMESTAMP)):
        plan = plan_column(column)
        assert plan.guard_sql is None and plan.lean_sql is None and plan.guard_problem
    assert plan_column(MyColumn("c", t.LONG, 0, BINARY, 11)).guard_sql is None


def test_normalize_refuses_non_boolean_tinyint1_and_the_zero_timestamp() -> None:
    boolean = plan_column(MyColumn("b", t.TINY, 0, BINARY, 1))
    stamp = plan_column(MyColumn("s", t.TIMESTAMP))
    schema = target_schema([boolean, stamp])
    good = pa.record_batch([pa.array([0, 1, None], pa.int8()), pa.array([1, None, 5])], ["b", "s"])
    out = normalize(good, [boolean, stamp], schema, "e")
    assert out.column(0).to_pylist() == [False, True, None]
    assert out.column(1).type == pa.timestamp("us", tz="UTC")
    assert out.column(1).cast(pa.int64()).to_pylist() == [1, None, 5]
    for bad, name in (
        (pa.record_batch([pa.array([0, 2], pa.int8()), pa.array([1, 1])], ["b", "s"]), "b"),
        (pa.record_batch([pa.array([0, 1], pa.int8()), pa.array([1, 0])], ["b", "s"]), "s"),
    ):
        with pytest.raises(TypeMappingError, match=f"column '{name}'"):
            normalize(bad, [boolean, stamp], schema, "e")


def test_decimal_precision_from_display_length() -> None:
    assert decimal_precision(MyColumn("c", t.NEWDECIMAL, 0, BINARY, 12, 2)) == 10
    assert decimal_precision(MyColumn("c", t.NEWDECIMAL, U, BINARY, 11, 2)) == 10
    assert decimal_precision(MyColumn("c", t.NEWDECIMAL, 0, BINARY, 11, 0)) == 10


def test_overrides_and_identifier_quoting() -> None:
    plan = plan_column(MyColumn("we`ird", t.DOUBLE), parse_column_type("decimal(12,3)"))
    assert plan.select_sql == "CAST(CAST(_rivet.`we``ird` AS DECIMAL(12,3)) AS CHAR) AS `we``ird`"
    assert plan.arrow_type == pa.decimal128(12, 3)
    with pytest.raises(ValueError, match="not available for MySQL"):
        plan_column(MyColumn("c", t.DOUBLE), parse_column_type("uuid"))


def test_connectorx_errors_are_read_by_error_number() -> None:
    error = source_error(
        RuntimeError("MySqlError { ERROR 1146 (42S02): Table 'db.x' doesn't exist }"), "orders"
    )
    assert str(error).startswith("export 'orders': MySQL error: Table 'db.x' doesn't exist")
    assert error.sqlstate == "42S02" and not error.transient
    assert source_error(
        RuntimeError("MySqlError { ERROR 2013 (HY000): Lost connection }"), "o"
    ).transient
