"""XLSX exports as they really look: title rows above the header, merged cells that hold their value only in
their first row, dates written as Excel serial numbers, and one sheet per month or region.

Options (a file stream's config, see `FileOptions`): `header_row` (1-based row of the header; the rows above
are skipped), `fill_down` (columns whose empty cells take the value above: merged cells), `excel_dates`
(columns whose numbers are Excel serial dates, 45292 → 2024-01-01) and `sheet` (a name, a list of names, or
`*` for every sheet; the sheets must share the header and are read in order). Values are text, as the CSV
reader gives them.

The rows come from python-calamine (Rust; several times faster than openpyxl, see `bench/excel_read.py`) when it
is installed, else from openpyxl; both give the same values (`sheet_rows`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airbyte_cdk.utils.traced_exception import AirbyteTracedException, FailureType

from connectors.python_source import plain, unique_names

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's 1900 leap-year bug included)


@dataclass
class FileOptions:
    """How to read a file's rows beyond its format."""

    header_row: int = 1
    fill_down: list[str] = field(default_factory=list)
    excel_dates: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> FileOptions:
        c = config or {}
        return cls(int(c.get("header_row") or 1), list(c.get("fill_down") or []), list(c.get("excel_dates") or []))


def serial_date(value: Any) -> Any:
    """An Excel serial number (or its text) as an ISO date, or date and time when it has a fraction; anything
    else as it is."""
    if isinstance(value, bool):
        return value
    try:
        number = float(value) if isinstance(value, str) and value.strip() else value
    except ValueError:
        return value
    if not isinstance(number, int | float) or not 1 <= number < 2958466:  # up to 9999-12-31
        return value
    when = _EXCEL_EPOCH + dt.timedelta(days=float(number))
    when = when.replace(microsecond=0) if when.microsecond < 500000 else \
        (when + dt.timedelta(seconds=1)).replace(microsecond=0)
    return when.date().isoformat() if float(number).is_integer() else when.isoformat(sep=" ")


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(plain(v))


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def sheet_names(all_names: Sequence[str], sheet: str | Sequence[str] | None, path: str) -> list[str]:
    """The sheets to read: the first, a named one, several, or `*` (every sheet)."""
    if not sheet:
        return [all_names[0]]
    wanted = list(all_names) if sheet == "*" else [sheet] if isinstance(sheet, str) else list(sheet)
    missing = [s for s in wanted if s not in all_names]
    if missing:
        raise AirbyteTracedException(message=f"{path}: no sheet named {', '.join(map(repr, missing))} (its sheets: "
                                             f"{', '.join(map(repr, all_names))})",
                                     failure_type=FailureType.config_error)
    return wanted


class _Openpyxl:
    """A workbook read by openpyxl (read-only, cached formula values)."""

    def __init__(self, path: str):
        from openpyxl import load_workbook

        self._wb = load_workbook(path, read_only=True, data_only=True)
        self.names: list[str] = list(self._wb.sheetnames)

    def rows(self, name: str, first_row: int) -> Iterator[Sequence[Any]]:
        yield from self._wb[name].iter_rows(values_only=True, min_row=first_row)

    def close(self) -> None:
        self._wb.close()


class _Calamine:
    """A workbook read by python-calamine, its values as openpyxl gives them (empty cells None, dates as
    datetimes, the sheet from A1 even when its data starts further down or right)."""

    def __init__(self, path: str):
        from python_calamine import CalamineWorkbook

        self._wb = CalamineWorkbook.from_path(path)
        self.names = list(self._wb.sheet_names)

    def rows(self, name: str, first_row: int) -> Iterator[Sequence[Any]]:
        ws = self._wb.get_sheet_by_name(name)
        left = int((ws.start or (0, 0))[1])  # its rows start at row 1, its columns at the first one with data
        pad = [None] * left
        for i, values in enumerate(ws.iter_rows()):
            if i >= first_row - 1:
                yield pad + [None if v == "" else dt.datetime(v.year, v.month, v.day) if type(v) is dt.date else v
                             for v in values]

    def close(self) -> None:
        close = getattr(self._wb, "close", None)
        if close:
            close()


def open_workbook(path: str) -> _Openpyxl | _Calamine:
    """python-calamine where it is installed, else openpyxl; a file neither can open is the connector's error naming
    it (a sync fails that stream and reads the others)."""
    try:
        try:
            return _Calamine(path)
        except ImportError:
            return _Openpyxl(path)
    except Exception as e:  # (python-calamine's ZipError, XlsxError, … and openpyxl's BadZipFile alike)
        raise AirbyteTracedException(message=f"{path}: not a readable Excel workbook ({type(e).__name__}: {e})",
                                     failure_type=FailureType.config_error) from e


def xlsx_rows(path: str, sheet: str | Sequence[str] | None, options: FileOptions, header_only: bool = False,
              reader: Callable[[str], _Openpyxl | _Calamine] | None = None) -> Iterator[list[str] | dict[str, Any]]:
    """First the header (a list), then each row as a dict of text; blank rows are skipped. `reader`: the
    workbook reader (default `open_workbook`)."""
    wb = (reader or open_workbook)(path)
    try:
        header: list[str] | None = None
        for name in sheet_names(wb.names, sheet, path):
            it = wb.rows(name, options.header_row)
            first = next(it, None)
            if first is None:
                continue
            this = unique_names(list(first))
            if header is None:
                header = this
                yield header
                if header_only:
                    return
            elif this != header:
                raise AirbyteTracedException(
                    message=f"{path}: sheet {name!r} has the header {', '.join(this)}, unlike the first sheet's "
                            f"{', '.join(header)}", failure_type=FailureType.config_error)
            fill = [h for h in options.fill_down if h in header]
            dates = [h for h in options.excel_dates if h in header]
            above: dict[str, Any] = {}
            for values in it:
                if values is None or all(_blank(v) for v in values):
                    continue
                rec = dict(zip(header, values, strict=False))
                for h in fill:  # a merged cell holds its value in its first row only
                    if _blank(rec.get(h)):
                        rec[h] = above.get(h)
                    else:
                        above[h] = rec[h]
                for h in dates:
                    if not isinstance(rec.get(h), dt.date):
                        rec[h] = serial_date(rec.get(h))
                yield {h: _text(rec.get(h)) for h in header}
    finally:
        wb.close()
