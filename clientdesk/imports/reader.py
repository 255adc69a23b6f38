"""Opening an uploaded workbook: first what may be opened at all (size, format, password, zip bomb),
then the rows of its first worksheet with their spreadsheet row numbers, read with python-calamine
(cell values; a formula is read as the value Excel saved with it)."""
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import python_calamine
from flask_babel import gettext as _, lazy_gettext as _l

from ..i18n import localnumber
from .columns import letter

MB = 1024 * 1024
MAX_FILE_BYTES = 10 * MB
MAX_UNPACKED_BYTES = 200 * MB  # every part of the workbook unpacked; a 20,000-row sheet is ~40 MB
MAX_PACKING_RATIO = 100  # spreadsheet XML packs 5 to 20 times; a zip bomb packs thousands of times
DEFAULT_MAX_ROWS = 20_000

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # Office 97-2003 files, and password-protected .xlsx
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")

SAVE_AS_XLSX = _l("open it in Excel and save it as an Excel Workbook (.xlsx)")
PROTECTED = _l("The workbook is protected by a password, so it cannot be read. Open it in Excel, remove the password "
               "(File › Info › Protect Workbook › Encrypt with Password) and save it again.")


class FileRejected(ValueError):
    """The file cannot be imported at all; str() says why and what to do."""


def check_file(path: str) -> None:
    """Refuse, with a message a person can act on, anything that is not a sane .xlsx workbook."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:  # deleted by remove_old_files while a dry run's import was on its way
        raise FileRejected(_("The uploaded file is no longer kept: upload it again.")) from None
    if size == 0:
        raise FileRejected(_("The file is empty."))
    if size > MAX_FILE_BYTES:
        raise FileRejected(_("The file is %(size)s MB: at most %(max)d MB can be imported at once. Split it into several files.",
                             size=localnumber(round(size / MB, 1), "#,##0.0"), max=MAX_FILE_BYTES // MB))
    with open(path, "rb") as stream:
        head = stream.read(4096)
    if head.startswith(OLE_MAGIC):
        with open(path, "rb") as stream:
            if ENCRYPTED_STREAM in stream.read():
                raise FileRejected(str(PROTECTED))
        raise FileRejected(_("This is an old Excel 97-2003 workbook (.xls): %(fix)s.", fix=SAVE_AS_XLSX))
    if not head.startswith(ZIP_MAGIC):
        if _looks_like_text(head):
            raise FileRejected(_("This is a text (CSV) file, not an Excel workbook, whatever its name says: %(fix)s.",
                                 fix=SAVE_AS_XLSX))
        raise FileRejected(_("This is not an Excel workbook: %(fix)s.", fix=SAVE_AS_XLSX))
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            names = {part.filename for part in parts}
            if "mimetype" in names and b"opendocument" in archive.read("mimetype"):
                raise FileRejected(_("This is an OpenDocument spreadsheet (.ods): %(fix)s.", fix=SAVE_AS_XLSX))
    except zipfile.BadZipFile:
        raise FileRejected(_("The file is damaged and cannot be opened: %(fix)s again.", fix=SAVE_AS_XLSX)) from None
    if "xl/workbook.xml" not in names:
        raise FileRejected(_("This is not an Excel workbook (it may be another kind of document): %(fix)s.", fix=SAVE_AS_XLSX))
    unpacked = sum(part.file_size for part in parts)
    packed_too_well = any(part.file_size > MB and part.file_size > MAX_PACKING_RATIO * part.compress_size for part in parts)
    if unpacked > MAX_UNPACKED_BYTES or packed_too_well:
        raise FileRejected(
            _("The file unpacks to far more data than a list of clients holds (it looks like a “zip bomb”), so it was not opened.")
        )


def _looks_like_text(head: bytes) -> bool:
    if head.startswith(TEXT_BOMS):
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start > len(head) - 4  # a character cut by the 4 KB boundary
    return True


@dataclass
class Sheet:
    name: str
    header_row: int  # spreadsheet row number (1-based)
    header: list
    first_column: int  # index of the sheet's first used column (0 for A)
    last_row: int  # spreadsheet row number of the last row with a value
    rows: Iterator[tuple[int, list]]  # (spreadsheet row number, cells) for the rows under the header

    def letter(self, index: int) -> str:
        return letter(self.first_column + index)


def first_worksheet(path: str) -> python_calamine.CalamineSheet:
    """The sheet an import reads: the first visible worksheet (so a hidden lists sheet never counts)."""
    workbook = python_calamine.CalamineWorkbook.from_path(path)
    worksheets = [m for m in workbook.sheets_metadata if m.typ == python_calamine.SheetTypeEnum.WorkSheet]
    visible = [m for m in worksheets if m.visible == python_calamine.SheetVisibleEnum.Visible]
    if not worksheets:
        raise FileRejected(_("The workbook has no worksheet."))
    return workbook.get_sheet_by_name((visible or worksheets)[0].name)


def read_sheet(path: str, max_rows: int = DEFAULT_MAX_ROWS) -> Sheet:
    """The first visible worksheet: its header (the first row with a value) and an iterator over the rows below."""
    try:
        sheet = first_worksheet(path)
    except python_calamine.PasswordError:
        raise FileRejected(str(PROTECTED)) from None
    except python_calamine.CalamineError as error:
        raise FileRejected(_("The file is damaged and cannot be read (%(error)s): %(fix)s again.", error=error,
                             fix=SAVE_AS_XLSX)) from None
    if sheet.start is None:
        raise FileRejected(_("The first sheet (“%(sheet)s”) is empty.", sheet=sheet.name))
    rows = enumerate(sheet.iter_rows(), start=1)  # calamine yields from row 1, columns from the first used one
    for number, cells in rows:
        if any(cell != "" for cell in cells):
            header_row, header = number, cells
            break
    last_row = sheet.end[0] + 1
    if last_row - header_row > max_rows:
        # The used range is only an upper bound (empty rows are ignored): count the rows with a value.
        filled = sum(1 for _, cells in rows if any(cell != "" for cell in cells))
        if filled > max_rows:
            raise FileRejected(_("The sheet has %(rows)s client rows: at most %(max)s can be imported at once. "
                                 "Split it into several files.", rows=localnumber(filled), max=localnumber(max_rows)))
        rows = enumerate(sheet.iter_rows(), start=1)
        for number, _cells in rows:
            if number == header_row:
                break
    if last_row == header_row:
        raise FileRejected(_("The sheet “%(sheet)s” has a header row but no client rows under it.", sheet=sheet.name))
    return Sheet(sheet.name, header_row, header, sheet.start[1], last_row, rows)
