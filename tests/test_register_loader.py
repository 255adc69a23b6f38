"""`kbo load`: the KBO open-data files into the local register, malformed rows, atomic replacement."""
import shutil
import zipfile

import pytest
import sqlalchemy as sa

from clientdesk.models import RegisterLoad, RegisterLoadStatus
from clientdesk.services.kbo_loader import SAMPLE, LoadError, load_register
from clientdesk.services.register import LocalRegister

ENTERPRISE = '"EnterpriseNumber","Status","JuridicalSituation","TypeOfEnterprise","JuridicalForm","JuridicalFormCAC","StartDate"\n'
DENOMINATION = '"EntityNumber","Language","TypeOfDenomination","Denomination"\n'
ADDRESS = ('"EntityNumber","TypeOfAddress","CountryNL","CountryFR","Zipcode","MunicipalityNL","MunicipalityFR",'
           '"StreetNL","StreetFR","HouseNumber","Box","ExtraAddressInfo","DateStrikingOff"\n')
CONTACT = '"EntityNumber","EntityContact","ContactType","Value"\n'


def extract(folder, enterprise="", denomination="", address=None, contact=None, meta_number="900"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.csv").write_text(f'"Variable","Value"\n"SnapshotDate","01-11-2026"\n"ExtractNumber","{meta_number}"\n')
    rows = enterprise.encode() if isinstance(enterprise, str) else enterprise
    (folder / "enterprise.csv").write_bytes(ENTERPRISE.encode() + rows)
    (folder / "denomination.csv").write_text(DENOMINATION + denomination, encoding="utf-8")
    if address is not None:
        (folder / "address.csv").write_text(ADDRESS + address, encoding="utf-8")
    if contact is not None:
        (folder / "contact.csv").write_text(CONTACT + contact, encoding="utf-8")
    return folder


def count(session, table):
    return session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def test_loads_the_sample_extract(db_session):
    report = load_register(SAMPLE)

    files = report.files
    assert files["enterprise.csv"].loaded == 300 and files["enterprise.csv"].skipped == 0
    assert files["denomination.csv"].loaded == files["denomination.csv"].rows == 477
    # Only the seats (REGO) of enterprises are kept; establishment addresses are ignored, not errors.
    assert files["address.csv"].loaded + files["address.csv"].ignored == files["address.csv"].rows
    assert files["address.csv"].ignored > 0 and files["address.csv"].skipped == 0
    assert files["contact.csv"].loaded > 0 and files["code.csv"].loaded == 18
    assert report.skipped == 0
    assert count(db_session, "kbo_enterprise") == 300
    assert count(db_session, "kbo_denomination") == 477
    load = RegisterLoad.active()
    assert load.enterprises == 300 and load.extract_number == "7" and load.snapshot_date.isoformat() == "2026-11-07"
    company = LocalRegister().get("0200362408")
    assert company.name == "Intercommunale Sociale du Brabant wallon"
    assert (company.street, company.house_number, company.postal_code, company.city) == ("Rue du Cerf", "200", "1332", "Rixensart")
    assert company.phone == "02 315 13 51" and company.email == "info@isbw.be"


def test_malformed_rows_are_reported_skipped_and_counted(tmp_path, db_session):
    enterprise = (
        b'"0403.170.701","AC","000","2","014",,12-10-2001\n'      # good
        b'"0403.170.702","AC","000","2","014",,12-10-2001\n'      # check digits
        b'"0403.170.701","AC","000","2","014",,12-10-2001\n'      # the same number again
        b'"0417.497.106","AC","000","2","014"\n'                 # too few fields
        b'"0202.239.951","AC","000","2","014",,31-02-2001\n'      # no such date
        b'"2.000.000.339","AC","000","2","014",,01-01-2000\n'     # an establishment number
        b'"0400.378.485","AC","000","2","014",,"01-01-2000"x\n'   # broken quoting
        b'"1001.234.592","AC","000","2","610",,01-01-2020\n'      # good (1-series)
    ) + '"0403.227.515","AC","000","2","014","Caf\xe9",01-01-2000\n'.encode("latin-1")  # not UTF-8
    denomination = (
        '"0403.170.701","2","001","Electrabel"\n'
        '"0403.170.701","2","003",""\n'                          # empty name
        '"0403.17.0701","2","001","Typo"\n'                      # not an enterprise number
        '"9.000.006.626","2","004","Branch name"\n'              # a branch: ignored
        '"1001.234.592","1","001","Boulangerie Lefèvre-Dubois"\n'
    )
    report = load_register(extract(tmp_path / "x", enterprise, denomination), echo=None)

    enterprises = report.files["enterprise.csv"]
    assert (enterprises.rows, enterprises.loaded, enterprises.skipped) == (9, 2, 7)
    problems = "\n".join(enterprises.problems)
    for expected in ("line 3: EnterpriseNumber “0403.170.702” is not a valid enterprise number",
                     "line 4: enterprise 0403.170.701 appears twice",
                     "line 5: 5 fields instead of 7",
                     "line 6: StartDate “31-02-2001” is not a date",
                     "line 7: EnterpriseNumber “2.000.000.339”",
                     "line 8: not valid CSV",
                     "line 10: bytes that are not UTF-8"):
        assert expected in problems
    names = report.files["denomination.csv"]
    assert (names.rows, names.loaded, names.ignored, names.skipped) == (5, 2, 1, 2)
    assert report.skipped == 9
    assert LocalRegister().known_numbers(["0403170701", "1001234592", "0403227515", "0417497106"]) == {"0403170701", "1001234592"}
    assert RegisterLoad.active().skipped_rows == 9


def test_repeated_numbers_on_distant_lines_are_kept_once(tmp_path, db_session):
    enterprise = ('"0403.170.701","AC","000","2","014",,12-10-2001\n'
                  '"0417.497.106","AC","000","2","014",,12-10-2001\n'
                  '"0403.170.701","AC","000","2","014",,12-10-2001\n')
    report = load_register(extract(tmp_path / "x", enterprise, '"0403.170.701","2","001","Electrabel"\n'))
    assert report.files["enterprise.csv"].loaded == 2
    assert report.files["enterprise.csv"].skipped == 1
    assert count(db_session, "kbo_enterprise") == 2


def test_a_reload_replaces_the_register_and_searches_keep_working_meanwhile(tmp_path, db_session):
    load_register(SAMPLE)
    register = LocalRegister()
    seen_during_load = []

    def echo(message):  # called by the loader between files, while the new set is being built
        seen_during_load.append([c.name for c in register.search("electrabel")])

    new = extract(tmp_path / "new", '"0417.497.106","AC","000","2","014",,01-01-1990\n', '"0417.497.106","2","001","AB InBev"\n')
    load_register(new, echo=echo)

    # Every message but the last came before the switch: the old register answered throughout.
    assert len(seen_during_load) > 3
    assert all(names == ["Electrabel"] for names in seen_during_load[:-1]) and seen_during_load[-1] == []
    assert register.search("electrabel") == []
    assert [c.name for c in register.search("inbev")] == ["AB InBev"]
    statuses = dict(db_session.execute(sa.select(RegisterLoad.extract_number, RegisterLoad.status)).all())
    assert statuses == {"7": RegisterLoadStatus.REPLACED, "900": RegisterLoadStatus.ACTIVE}
    tables = set(sa.inspect(db_session.get_bind()).get_table_names())
    assert not {t for t in tables if t.endswith(("__new", "__old"))}


def test_a_failed_load_changes_nothing(tmp_path, db_session):
    load_register(SAMPLE)
    broken = extract(tmp_path / "broken", '"0417.497.106","AC","000","2","014",,01-01-1990\n', '"0417.497.106","2","001","AB InBev"\n')
    (broken / "address.csv").write_text('"EntityNumber","Something"\n"0417.497.106","x"\n')

    with pytest.raises(LoadError, match="address.csv has no column TypeOfAddress"):
        load_register(broken)

    assert [c.name for c in LocalRegister().search("electrabel")] == ["Electrabel"]
    assert RegisterLoad.active().extract_number == "7"
    failed = db_session.scalars(sa.select(RegisterLoad).where(RegisterLoad.status == RegisterLoadStatus.FAILED.value)).one()
    assert "TypeOfAddress" in failed.report["error"]
    tables = set(sa.inspect(db_session.get_bind()).get_table_names())
    assert not {t for t in tables if t.endswith("__new")}


def test_the_same_extract_is_not_loaded_twice_unless_forced(db_session):
    load_register(SAMPLE)
    with pytest.raises(LoadError, match="already the register in use; add --force"):
        load_register(SAMPLE)
    load_register(SAMPLE, force=True)
    assert RegisterLoad.active().id == 2


def test_reads_the_zip_as_downloaded(tmp_path, db_session):
    archive = tmp_path / "KboOpenData_0140_2026_11_Full.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in SAMPLE.glob("*.csv"):
            zipped.write(path, path.name)
    assert load_register(archive).enterprises == 300


@pytest.mark.parametrize("files, message", [
    ({"enterprise_insert.csv", "enterprise_delete.csv"}, "No company register is loaded: load a Full extract first"),
    ({"enterprise.csv"}, "has no denomination.csv"),
])
def test_an_incomplete_extract_or_an_update_without_register_is_refused(tmp_path, db_session, files, message):
    folder = tmp_path / "x"
    folder.mkdir()
    for name in files:
        (folder / name).write_text(ENTERPRISE)
    with pytest.raises(LoadError, match=message):
        load_register(folder)
    assert RegisterLoad.active() is None


def test_cli_loads_reports_and_rechecks(app, tmp_path):
    folder = shutil.copytree(SAMPLE, tmp_path / "extract")
    runner = app.test_cli_runner()

    result = runner.invoke(args=["kbo", "load", str(folder), "--recheck-now"])

    assert result.exit_code == 0, result.output
    assert "enterprise.csv: 300 rows, 300 loaded, 0 ignored, 0 skipped" in result.output
    assert "Loaded 300 enterprises" in result.output and "Re-checked 0 clients" in result.output
    again = runner.invoke(args=["kbo", "load", str(folder)])
    assert again.exit_code == 1 and "add --force" in again.output
    missing = runner.invoke(args=["kbo", "load", str(tmp_path)])
    assert missing.exit_code == 1 and "has no enterprise.csv or denomination.csv" in missing.output
