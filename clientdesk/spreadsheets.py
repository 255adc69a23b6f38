"""Values written to files that people open in a spreadsheet (the client export, the annotated import
workbook): text must stay text, never run as a formula.

CSV: every field is quoted, and a formula start (=, +, -, @, or a leading tab or carriage return) gets an
apostrophe, at the start of the value and after any separator in it: Belgian Excel splits CSV on `;`, not
on `,`, so `x;=1+1` is two cells there, the second a formula. XLSX: a cell's type is explicit; openpyxl
only makes a formula of text that starts with `=`, so such text is written as a text cell, unchanged.
"""
import csv
import re

from openpyxl.cell import WriteOnlyCell

CSV_SEPARATORS = ",;|\t\r\n"
_FORMULA_START = re.compile(rf"(?:^|(?<=[{re.escape(CSV_SEPARATORS)}]))(?=[ ]*[=+\-@]|[\t\r])")


def csv_text(value: str) -> str:
    return _FORMULA_START.sub("'", value)


def csv_writer(out):
    return csv.writer(out, quoting=csv.QUOTE_ALL)


def csv_row(values) -> list:
    return [csv_text(value) if isinstance(value, str) else value for value in values]


def _formula_like(value) -> bool:
    return isinstance(value, str) and value.startswith("=")


def xlsx_cell(sheet, value):
    """A write-only sheet's cell for value; text that starts with `=` stays text."""
    cell = WriteOnlyCell(sheet, value=value)
    if _formula_like(value):
        cell.data_type = "s"
    return cell


def xlsx_value(sheet, value):
    """What to append to a write-only sheet's row for value: a text cell for text that starts with `=`, else the value."""
    return xlsx_cell(sheet, value) if _formula_like(value) else value
