"""Files that are not a usable workbook: each refused with a clear message, nothing written."""
import io
import os
import zipfile

import pytest
import sqlalchemy as sa

from clientdesk.extensions import db
from clientdesk.imports import reader
from clientdesk.models import Client, ImportStatus, Role
from tests.import_files import BANQUP_FR, banqup_row, run_import, with_sheet_xml, write_xlsx

OLE_HEADER = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504)


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN, email="admin@example.com")


def refused(app, path, admin) -> str:
    batch = run_import(app, path, admin)
    assert batch.status == ImportStatus.INVALID
    assert [(e["row"], e["letter"]) for e in batch.errors] == [(0, "")]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Client)) == 0
    return batch.errors[0]["message"]


def directory_entry(name: str) -> bytes:
    """A compound-file directory entry as Office writes them: the stream name in UTF-16, padded to 128 bytes."""
    encoded = name.encode("utf-16-le") + b"\x00\x00"
    return encoded + bytes(64 - len(encoded)) + len(encoded).to_bytes(2, "little") + bytes(62)


def test_a_good_file_passes_the_checks(tmp_path):
    path = write_xlsx(tmp_path / "ok.xlsx", BANQUP_FR, [banqup_row()])
    reader.check_file(str(path))


def test_png_renamed_to_xlsx(app, tmp_path, admin):
    path = tmp_path / "photo.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    assert "not an Excel workbook" in refused(app, path, admin)


def test_csv_renamed_to_xlsx(app, tmp_path, admin):
    path = tmp_path / "clients.xlsx"
    path.write_text("Raison sociale;Pays;Email de contact\nBoulangerie Dupont;BE;marie@example.org\n", encoding="utf-8-sig")
    message = refused(app, path, admin)
    assert "text (CSV) file" in message and "save it as an Excel Workbook (.xlsx)" in message


def test_old_xls_workbook(app, tmp_path, admin):
    path = tmp_path / "clients.xls"
    path.write_bytes(OLE_HEADER + directory_entry("Root Entry") + directory_entry("Workbook") + bytes(4096))
    assert "old Excel 97-2003 workbook (.xls)" in refused(app, path, admin)


def test_password_protected_workbook(app, tmp_path, admin):
    # Excel saves an encrypted .xlsx as a compound file holding EncryptionInfo and EncryptedPackage streams.
    path = tmp_path / "secret.xlsx"
    path.write_bytes(OLE_HEADER + directory_entry("Root Entry") + directory_entry("EncryptionInfo")
                     + directory_entry("EncryptedPackage") + os.urandom(4096))
    assert "protected by a password" in refused(app, path, admin)


def test_damaged_workbook(app, tmp_path, admin):
    good = write_xlsx(tmp_path / "good.xlsx", BANQUP_FR, [banqup_row()]).read_bytes()
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(good[: len(good) // 2])
    assert "damaged" in refused(app, path, admin)


def test_damaged_sheet_inside_a_valid_zip(app, tmp_path, admin):
    good = write_xlsx(tmp_path / "good.xlsx", BANQUP_FR, [banqup_row()])
    path = tmp_path / "broken-sheet.xlsx"
    with zipfile.ZipFile(good) as old, zipfile.ZipFile(path, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            new.writestr(item, data[:150] if item.filename == "xl/worksheets/sheet1.xml" else data)
    assert "damaged" in refused(app, path, admin)


def test_another_office_document(app, tmp_path, admin):
    path = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    assert "not an Excel workbook" in refused(app, path, admin)


def test_zip_bomb(app, tmp_path, admin):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + bytes(5 * 1024 * 1024))  # 5 MB packing to ~5 KB
    assert path.stat().st_size < 100_000
    assert "zip bomb" in refused(app, path, admin)


def test_zip_that_unpacks_to_too_much_in_total(app, tmp_path, admin, monkeypatch):
    monkeypatch.setattr(reader, "MAX_UNPACKED_BYTES", 50_000)
    path = write_xlsx(tmp_path / "big.xlsx", BANQUP_FR, [banqup_row(email=f"c{i}@example.org") for i in range(300)])
    assert "zip bomb" in refused(app, path, admin)


def test_more_than_10_mb(app, tmp_path, admin):
    path = tmp_path / "huge.xlsx"
    with open(path, "wb") as out:
        out.write(b"PK\x03\x04")
        out.truncate(10 * 1024 * 1024 + 1)
    assert "10.0 MB: at most 10 MB" in refused(app, path, admin)


def test_empty_file(app, tmp_path, admin):
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert refused(app, path, admin) == "The file is empty."


def test_empty_sheet(app, tmp_path, admin):
    path = write_xlsx(tmp_path / "empty-sheet.xlsx", None, [], sheet="Feuil1")
    assert refused(app, path, admin) == "The first sheet (“Feuil1”) is empty."


def test_header_without_rows(app, tmp_path, admin):
    path = write_xlsx(tmp_path / "header-only.xlsx", BANQUP_FR, [])
    assert "no client rows" in refused(app, path, admin)


def test_only_blank_rows_under_the_header(app, tmp_path, admin):
    path = write_xlsx(tmp_path / "blank-rows.xlsx", BANQUP_FR, [["  ", "", " "], [None, ""]])
    assert "no client rows" in refused(app, path, admin)


def test_more_rows_than_the_limit(app, tmp_path, admin, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 5)
    path = write_xlsx(tmp_path / "many.xlsx", BANQUP_FR, [banqup_row(email=f"c{i}@example.org") for i in range(6)])
    assert refused(app, path, admin) == "The sheet has 6 client rows: at most 5 can be imported at once. Split it into several files."


def test_rows_limit_counts_rows_with_values_only(app, tmp_path, admin, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 5)
    rows = [banqup_row(email=f"c{i}@example.org", number="", name=f"Client {i}") for i in range(5)]
    path = write_xlsx(tmp_path / "gaps.xlsx", BANQUP_FR, rows[:2] + [[None]] * 20 + rows[2:])
    assert run_import(app, path, admin).status == ImportStatus.IMPORTED


def test_formulas_are_read_as_their_cached_values(app, tmp_path, admin):
    plain = write_xlsx(tmp_path / "plain.xlsx", BANQUP_FR, [banqup_row("Formula SA", "f@example.org", "PLACEHOLDER")])
    with zipfile.ZipFile(plain) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    cell = sheet[sheet.index('<c r="G2"'):]
    cell = cell[:cell.index("</c>") + 4]
    path = with_sheet_xml(plain, tmp_path / "formula.xlsx", {
        cell: '<c r="G2" t="str"><f>CONCATENATE("0403","170701")</f><v>0403170701</v></c>',
    })

    batch = run_import(app, path, admin)

    assert batch.status == ImportStatus.IMPORTED, batch.errors
    with app.app_context():
        assert db.session.scalars(sa.select(Client.enterprise_number)).one() == "0403170701"


def test_data_may_start_below_and_right_of_a1(app, tmp_path, admin):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for offset, row in enumerate([BANQUP_FR, banqup_row("Offset SA", "o@example.org", "0403.170.702")]):
        for column, value in enumerate(row):
            sheet.cell(row=3 + offset, column=2 + column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = tmp_path / "offset.xlsx"
    path.write_bytes(buffer.getvalue())

    batch = run_import(app, path, admin)

    assert [(e["row"], e["letter"]) for e in batch.errors] == [(4, "H")]  # the 7th column, shifted to H


def test_the_first_visible_sheet_is_read(app, tmp_path, admin):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "Lists"
    workbook.active.append(["not", "clients"])
    workbook.active.sheet_state = "hidden"
    clients = workbook.create_sheet("Clients")
    clients.append(BANQUP_FR)
    clients.append(banqup_row("Visible SA", "v@example.org", "0403170701"))
    workbook.save(tmp_path / "hidden-first.xlsx")
    assert run_import(app, tmp_path / "hidden-first.xlsx", admin).status == ImportStatus.IMPORTED
