"""`flask kbo load SOURCE`: a KBO/BCE open-data extract (folder or zip) into the local register.

Reads enterprise.csv, denomination.csv, address.csv, contact.csv, code.csv and meta.csv as the FOD
Economy publishes them (UTF-8, `"`-quoted, `,`-separated, dates dd-mm-yyyy, numbers `0403.170.701`),
streamed row by row, so memory stays flat whatever the size. Rows are bulk-written into a new set of
tables (SQLite: executemany in committed batches; PostgreSQL: COPY), which is indexed and then
swapped in atomically (models/register.py); searches read the previous register until then.

Kept: every enterprise; every name of an enterprise; its seat address (REGO, not struck off); its
TEL/EMAIL/WEB contacts; the legal-form labels. Ignored (counted): establishment and branch rows,
other address and contact kinds, activity.csv. A malformed row (wrong number of fields, broken
quoting, bytes that are not UTF-8, an invalid enterprise number or date, a missing name, a repeated
enterprise) is skipped, counted and reported with its line number; the load goes on.

An update extract (meta.csv's ExtractType "update"; `<name>_delete.csv` and `<name>_insert.csv` files) is applied
to the live register in one transaction, only when it is the extract after the register's (or forced). After either
kind, register_changes.flag_clients records what changed for the firm's clients.
"""
import codecs
import contextlib
import csv
import fcntl
import io
import json
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from .. import register_changes
from ..extensions import db
from ..models import utcnow
from ..models.register import (
    COLUMNS,
    LIVE,
    NEW,
    OLD,
    SEARCH_TABLE,
    ExtractType,
    RegisterLoad,
    RegisterLoadStatus,
    create_live,
    create_staging,
    drop_set,
    index_statements,
    swap_in,
)
from .register import search_text

FILES = ("enterprise.csv", "denomination.csv", "address.csv", "contact.csv", "code.csv")
REQUIRED = ("enterprise.csv", "denomination.csv")
# An update extract: for each kept file, `<name>_delete.csv` (the entity numbers whose rows go) and `<name>_insert.csv`
# (their rows as they are now); code.csv comes complete.
KEPT = ("enterprise", "denomination", "address", "contact")
UPDATE_FILES = tuple(f"{name}_{part}.csv" for name in KEPT for part in ("delete", "insert"))
HEADERS = {
    "enterprise.csv": ("EnterpriseNumber", "Status", "JuridicalSituation", "TypeOfEnterprise", "JuridicalForm",
                       "JuridicalFormCAC", "StartDate"),
    "denomination.csv": ("EntityNumber", "Language", "TypeOfDenomination", "Denomination"),
    "address.csv": ("EntityNumber", "TypeOfAddress", "CountryNL", "CountryFR", "Zipcode", "MunicipalityNL",
                    "MunicipalityFR", "StreetNL", "StreetFR", "HouseNumber", "Box", "ExtraAddressInfo", "DateStrikingOff"),
    "contact.csv": ("EntityNumber", "EntityContact", "ContactType", "Value"),
    "code.csv": ("Category", "Code", "Language", "Description"),
}
SAMPLE = Path(__file__).resolve().parent.parent / "demo" / "kbo"
PROBLEMS_KEPT = 20  # per file; every problem is counted
BATCH = 5000
SQLITE_COMMIT_ROWS = 200_000  # keeps the WAL small and lets the app's own writes through between batches
LOCK_KEY = 0x6B626F  # PostgreSQL advisory lock held during a load ("kbo")
INBOX_LOCK_KEY = 0x6B626F69  # ... and during a run over KBO_INBOX_DIR ("kboi")
DONE, FAILED = "done", "failed"  # the subfolders of KBO_INBOX_DIR for the extracts loaded and refused


class LoadError(RuntimeError):
    """The extract cannot be loaded; nothing was changed. str() says why."""


class LoadBusy(LoadError):
    """Another load holds the register: try again later."""


@dataclass
class FileReport:
    name: str
    rows: int = 0
    loaded: int = 0
    ignored: int = 0
    skipped: int = 0
    problems: list = field(default_factory=list)
    seconds: float = 0.0

    def problem(self, line: int | None, message: str, count: int = 1) -> None:
        self.skipped += count
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(f"{self.name}" + (f" line {line}" if line else "") + f": {message}")


@dataclass
class LoadReport:
    source: str
    extract_number: str | None
    snapshot_date: date | None
    update: bool = False
    files: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)
    seconds: float = 0.0
    enterprises: int = 0  # in the register once loaded
    # An update: enterprises that left the register, that entered it, that stayed with other data.
    deleted: int = 0
    inserted: int = 0
    changed: int = 0
    flagged: list = field(default_factory=list)  # the register changes recorded for clients (RegisterChange rows)

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.files.values())

    def as_dict(self) -> dict:
        return {
            "seconds": round(self.seconds, 1),
            **({"deleted": self.deleted, "inserted": self.inserted, "changed": self.changed} if self.update else {}),
            "client_changes": len(self.flagged),
            "missing_files": self.missing,
            "files": {n: {k: getattr(f, k) for k in ("rows", "loaded", "ignored", "skipped", "problems")}
                      for n, f in self.files.items()},
        }


# Bytes that are not UTF-8 become U+FFFD; the handler only runs when that happens, so clean files pay nothing.
_undecodable = threading.local()


def _replace_and_note(error: UnicodeDecodeError):
    _undecodable.seen = True
    return "\ufffd", error.end


codecs.register_error("clientdesk.kbo", _replace_and_note)


class Extract:
    """The files of an extract, from a folder or a .zip."""

    def __init__(self, path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            self._zip = None
            names = {p.name: p for p in self.path.iterdir()}
        elif zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            names = {Path(n).name: n for n in self._zip.namelist()}
        else:
            raise LoadError(f"{self.path} is neither a folder nor a .zip of KBO open-data files.")
        self._members = {name: member for name, member in names.items() if name.endswith(".csv")}
        declared = self.meta().get("ExtractType", "").strip().lower()
        self.update = declared == "update" or (declared != "full" and "enterprise.csv" not in self._members
                                                and any(n in self._members for n in UPDATE_FILES))
        if self.update:
            if not any(n in self._members for n in UPDATE_FILES):
                raise LoadError(f"{self.path} says it is an update extract but has no …_delete.csv or …_insert.csv "
                                "file of enterprises, names, addresses or contacts.")
            return
        missing = [name for name in REQUIRED if name not in self._members]
        if missing:
            raise LoadError(f"{self.path} has no {' or '.join(missing)}: is it a KBO open-data Full extract?")

    def has(self, name: str) -> bool:
        return name in self._members

    def open(self, name: str):
        member = self._members[name]
        raw = self._zip.open(member) if self._zip else open(member, "rb")
        return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="clientdesk.kbo", newline="")

    def meta(self) -> dict:
        if not self.has("meta.csv"):
            return {}
        with self.open("meta.csv") as stream:
            return {row[0]: row[1] for row in csv.reader(stream) if len(row) == 2}

    def close(self) -> None:
        if self._zip:
            self._zip.close()


class _Rows:
    """The rows of one file with the expected header, in the expected column order; malformed ones skipped."""

    def __init__(self, extract: Extract, report: FileReport, columns: tuple[str, ...] | None = None) -> None:
        self.extract, self.report = extract, report
        self.columns = columns or HEADERS[report.name]
        self.reader = None

    @property
    def line(self) -> int:
        return self.reader.line_num

    def __iter__(self):
        report, columns = self.report, self.columns
        undecodable = _undecodable
        undecodable.seen = False  # before the first read: the decoder works ahead of the CSV parser
        with self.extract.open(report.name) as stream:
            self.reader = reader = csv.reader(stream, strict=True)
            header = next(reader, None) or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise LoadError(f"{report.name} has no column {', '.join(missing)} (its header: {', '.join(header) or 'empty'}).")
            width = len(header)
            order = None if tuple(header[:len(columns)]) == columns else [header.index(c) for c in columns]
            count = 0
            try:
                while True:
                    try:
                        for row in reader:
                            count += 1
                            if len(row) != width:
                                report.problem(reader.line_num, f"{len(row)} fields instead of {width}")
                                continue
                            if undecodable.seen and any("\ufffd" in value for value in row):
                                report.problem(reader.line_num, "bytes that are not UTF-8 (the files must be saved as UTF-8)")
                                continue
                            yield row if order is None else [row[i] for i in order]
                        break
                    except csv.Error as error:
                        count += 1
                        report.problem(reader.line_num, f"not valid CSV ({error})")
            finally:
                report.rows = count


def _enterprises(rows: _Rows, report: FileReport):
    dates = {"": None}
    previous = None
    for number_raw, _status, situation, kind, form, _cac, start in rows:
        number = number_raw.replace(".", "")
        # Shape 0403.170.701, first digit 0 or 1, and the mod-97 check: the first 8 digits plus the last 2
        # are a multiple of 97.
        if (len(number) != 10 or len(number_raw) != 12 or not number_raw[4] == number_raw[8] == "." or not number.isdigit()
                or number[0] not in "01" or (int(number[:8]) + int(number[8:])) % 97):
            report.problem(rows.line, f"EnterpriseNumber “{number_raw}” is not a valid enterprise number")
            continue
        if number == previous:
            report.problem(rows.line, f"enterprise {number_raw} appears twice (kept the first)")
            continue
        iso = dates.get(start, False)
        if iso is False:
            iso = dates[start] = _iso_date(start)
            if iso is None:
                del dates[start]
                report.problem(rows.line, f"StartDate “{start}” is not a date (dd-mm-yyyy)")
                continue
        previous = number
        yield number, kind or None, form or None, situation or None, iso


def _iso_date(raw: str) -> str | None:
    try:
        if len(raw) != 10 or raw[2] != "-" or raw[5] != "-":
            return None
        return date(int(raw[6:]), int(raw[3:5]), int(raw[:2])).isoformat()
    except ValueError:
        return None


# Entity numbers in the other files: enterprises (0403.170.701) are kept; establishments (2.000.000.339) and
# branches (9.000.006.626) are ignored; anything else is a malformed row. The check digits are checked once,
# in enterprise.csv: a row whose number is not there is never found.
def _enterprise_number(raw: str) -> str | None:
    number = raw.replace(".", "")
    return number if len(number) == 10 and len(raw) == 12 and raw[4] == raw[8] == "." and number.isdigit() else None


def _denominations(rows: _Rows, report: FileReport):
    serial = ignored = 0
    try:
        for number_raw, language, kind, name in rows:
            if len(number_raw) == 13:
                ignored += 1
                continue
            number = _enterprise_number(number_raw)
            if number is None:
                report.problem(rows.line, f"EntityNumber “{number_raw}” is not an enterprise number")
                continue
            name = name.strip()
            if not name or len(name) > 320:
                problem = "empty" if not name else "longer than 320 characters"
                report.problem(rows.line, f"enterprise {number_raw}: Denomination {problem}")
                continue
            serial += 1
            yield serial, number, language or None, kind or None, name, search_text(name)
    finally:
        report.ignored += ignored


def _addresses(rows: _Rows, report: FileReport):
    ignored = 0
    try:
        for (number_raw, kind, country_nl, country_fr, zipcode, municipality_nl, municipality_fr, street_nl, street_fr,
             house_number, box, extra, struck_off) in rows:
            if kind != "REGO" or struck_off or len(number_raw) == 13:
                ignored += 1  # establishment or branch addresses, struck-off seats
                continue
            number = _enterprise_number(number_raw)
            if number is None:
                report.problem(rows.line, f"EntityNumber “{number_raw}” is not an enterprise number")
                continue
            yield (number, country_nl or None, country_fr or None, zipcode or None, municipality_nl or None,
                   municipality_fr or None, street_nl or None, street_fr or None, house_number or None, box or None,
                   extra or None)
    finally:
        report.ignored += ignored


def _contacts(rows: _Rows, report: FileReport):
    ignored = 0
    try:
        for number_raw, entity, kind, value in rows:
            if entity != "ENT" or kind not in ("TEL", "EMAIL", "WEB"):
                ignored += 1
                continue
            number = _enterprise_number(number_raw)
            if number is None:
                report.problem(rows.line, f"EntityNumber “{number_raw}” is not an enterprise number")
                continue
            value = value.strip()
            if not value:
                report.problem(rows.line, f"enterprise {number_raw} has an empty {kind} contact")
                continue
            yield number, kind, value[:254]
    finally:
        report.ignored += ignored


def _codes(rows: _Rows, report: FileReport):
    for category, code, language, description in rows:
        if category != "JuridicalForm":
            report.ignored += 1
            continue
        yield category, code, language, description.strip()


PARSERS = {
    "enterprise.csv": ("kbo_enterprise", _enterprises),
    "denomination.csv": ("kbo_denomination", _denominations),
    "address.csv": ("kbo_address", _addresses),
    "contact.csv": ("kbo_contact", _contacts),
    "code.csv": ("kbo_code", _codes),
}


class _SqliteWriter:
    def __init__(self, connection) -> None:
        self.connection = connection

    def prepare(self) -> None:
        # WAL lets searches read the live register while this connection writes (the mode is kept by the file).
        self.connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        self.connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
        self.connection.exec_driver_sql("PRAGMA cache_size=-65536")  # 64 MiB, whatever the extract's size
        self.connection.commit()

    def write(self, table: str, rows) -> int:
        columns = [c for c, _ in COLUMNS[table]]
        verb = "INSERT OR IGNORE" if table == "kbo_enterprise" else "INSERT"
        insert = f"{verb} INTO {table}{NEW} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        written = since_commit = 0
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                written += self.connection.exec_driver_sql(insert, batch).rowcount
                since_commit += BATCH
                batch = []
                if since_commit >= SQLITE_COMMIT_ROWS:
                    self._commit(table)
                    since_commit = 0
        if batch:
            written += self.connection.exec_driver_sql(insert, batch).rowcount
        self._commit(table)
        return written

    def _commit(self, table: str) -> None:
        if table == "kbo_denomination":  # index the names written since the last commit (ids ascend)
            self.connection.exec_driver_sql(
                f"INSERT INTO {SEARCH_TABLE}{NEW} (rowid, search) SELECT id, search FROM kbo_denomination{NEW} "
                f"WHERE id > (SELECT coalesce(max(rowid), 0) FROM {SEARCH_TABLE}{NEW})"
            )
        self.connection.commit()

    def deduplicate(self) -> int:
        return 0  # INSERT OR IGNORE into the primary key already kept the first of each number


class _PostgresWriter:
    def __init__(self, connection) -> None:
        self.connection = connection

    def prepare(self) -> None:
        self.connection.exec_driver_sql("SET maintenance_work_mem = '256MB'")  # index builds of this session
        self.connection.commit()

    def write(self, table: str, rows) -> int:
        columns = ", ".join(c for c, _ in COLUMNS[table])
        written = 0
        with self.connection.begin():
            cursor = self.connection.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table}{NEW} ({columns}) FROM STDIN") as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
                    written += 1
        return written

    def deduplicate(self) -> int:
        """Repeated enterprise numbers that were not on adjacent lines (an unsorted file): keep one of each."""
        with self.connection.begin():
            return self.connection.exec_driver_sql(
                f"DELETE FROM kbo_enterprise{NEW} a USING kbo_enterprise{NEW} b "
                "WHERE a.number = b.number AND a.ctid > b.ctid"
            ).rowcount


@contextlib.contextmanager
def _exclusive(connection, key: int = LOCK_KEY, suffix: str = "kbo-lock",
               busy: str = "Another kbo load is running on this database; wait for it to finish."):
    """One holder at a time per database (PostgreSQL advisory lock; SQLite: a lock file beside the database)."""
    if connection.dialect.name == "postgresql":
        if not connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar():
            raise LoadBusy(busy)
        connection.commit()
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
            connection.commit()
        return
    database = connection.engine.url.database
    lock_path = Path(f"{database}.{suffix}") if database and database != ":memory:" else None
    if lock_path is None:
        yield
        return
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LoadBusy(busy) from None
        yield


def load_register(source, force: bool = False, echo=None) -> LoadReport:
    """Load an extract: a Full one becomes the register searches use, an update is applied to it. Then the clients
    whose enterprise's register data changed are flagged (register_changes.flag_clients). Raises LoadError when
    nothing was loaded."""
    echo = echo or (lambda message: None)
    started = time.perf_counter()
    extract = Extract(source)
    try:
        meta = extract.meta()
        extract_number = meta.get("ExtractNumber") or None
        snapshot = _snapshot_date(meta.get("SnapshotDate"))
        with db.engine.connect() as connection, _exclusive(connection):
            active = RegisterLoad.active()
            if extract.update:
                _check_sequence(active, extract_number, force)
            elif active and extract_number and active.extract_number == extract_number and not force:
                raise LoadError(f"{active} is already the register in use; add --force to load it again.")
            _fail_interrupted_loads()
            report = LoadReport(str(source), extract_number, snapshot, update=extract.update,
                                missing=[n for n in (UPDATE_FILES if extract.update else FILES) if not extract.has(n)])
            if extract.update:
                changes = _parse_update(extract, report, echo)
                before = register_changes.snapshot(changes.numbers) if active else None
            else:
                before = register_changes.snapshot() if active else None
            load = RegisterLoad(source=str(source), extract_number=extract_number, snapshot_date=snapshot,
                                extract_type=(ExtractType.UPDATE if extract.update else ExtractType.FULL).value)
            db.session.add(load)
            db.session.commit()
            try:
                if extract.update:
                    _apply_update(connection, changes, report, load.id)
                else:
                    _load(connection, extract, report, echo)
            except BaseException as error:
                connection.rollback()
                if not extract.update:
                    drop_set(connection, NEW)
                load.status = RegisterLoadStatus.FAILED.value
                load.finished_at = utcnow()
                load.report_json = json.dumps({"error": str(error)})
                db.session.commit()
                raise
            if not extract.update:
                report.enterprises = report.files["enterprise.csv"].loaded
                load.enterprises, load.skipped_rows = report.enterprises, report.skipped
                db.session.commit()
                with connection.begin():
                    swap_in(connection, load.id)
            db.session.expire_all()
            if before is not None:
                report.flagged = register_changes.flag_clients(load, before)
            report.seconds = time.perf_counter() - started
            load.report_json = json.dumps(report.as_dict())
            db.session.commit()
            if not extract.update:
                echo(f"Register switched to {load}; dropping the previous one.")
                drop_set(connection, OLD)
        return report
    finally:
        extract.close()


def _check_sequence(active: RegisterLoad | None, extract_number: str | None, force: bool) -> None:
    """An update applies to the register it follows: refused (unless forced) without a register, or when it is not
    the extract after the register's."""
    if force:
        return
    if active is None:
        raise LoadError("No company register is loaded: load a Full extract first (or add --force to apply the update "
                        "to an empty register).")
    expected = int(active.extract_number) + 1 if (active.extract_number or "").isdigit() else None
    if expected is None or not (extract_number or "").isdigit() or int(extract_number) != expected:
        raise LoadError(f"This update is extract {extract_number or '(no number)'} but the register is {active}: the "
                        f"next update to apply is extract {expected or '?'} (add --force to apply it anyway).")


def _load(connection, extract: Extract, report: LoadReport, echo) -> None:
    writer = _PostgresWriter(connection) if connection.dialect.name == "postgresql" else _SqliteWriter(connection)
    writer.prepare()
    drop_set(connection, NEW)  # left by an interrupted load (we hold the lock, so none is running)
    drop_set(connection, OLD)
    with connection.begin():
        create_staging(connection)
    for name in FILES:
        file_report = report.files[name] = FileReport(name)
        if not extract.has(name):
            echo(f"{name}: not in the extract, skipped.")
            continue
        clock = time.perf_counter()
        table, parse = PARSERS[name]
        file_report.loaded = writer.write(table, parse(_Rows(extract, file_report), file_report))
        if name == "enterprise.csv":  # repeats on non-adjacent lines, dropped by the database
            parsed = file_report.rows - file_report.skipped
            repeated = parsed - file_report.loaded + writer.deduplicate()
            if repeated:
                file_report.loaded = parsed - repeated
                file_report.problem(None, f"{repeated} enterprise numbers appear more than once (kept one of each)", repeated)
        file_report.seconds = time.perf_counter() - clock
        _echo_file(file_report, echo)
    clock = time.perf_counter()
    for statement in index_statements(connection.dialect.name):
        with connection.begin():
            connection.exec_driver_sql(statement)
    echo(f"Indexes built ({time.perf_counter() - clock:.1f} s).")


def _echo_file(file_report: FileReport, echo) -> None:
    echo(f"{file_report.name}: {file_report.rows:,} rows, {file_report.loaded:,} loaded, {file_report.ignored:,} ignored, "
         f"{file_report.skipped:,} skipped ({file_report.seconds:.1f} s)")
    for problem in file_report.problems:
        echo(f"  {problem}")
    if file_report.skipped > len(file_report.problems):
        echo(f"  … and {file_report.skipped - len(file_report.problems):,} more")


# Update extracts. The rows are read and checked first (an update is a day's changes: thousands of enterprises, not
# millions), then applied to the live tables in one transaction: for each file, the rows of every entity named in
# its _delete.csv or _insert.csv go, then the inserted rows come in.
NUMBER_AT = {"enterprise": 0, "denomination": 1, "address": 0, "contact": 0}  # the entity number in a parsed row
CHUNK = 500


@dataclass
class _Update:
    deletes: dict = field(default_factory=dict)  # {"enterprise": {number, ...}, ...}
    inserts: dict = field(default_factory=dict)  # {"enterprise": [parsed row, ...], ...}
    codes: list | None = None  # code.csv, which an update carries whole

    @property
    def numbers(self) -> set[str]:
        """Every enterprise the update touches."""
        found = set().union(*self.deletes.values())
        for name, rows in self.inserts.items():
            found.update(row[NUMBER_AT[name]] for row in rows)
        return found


def _parse_update(extract: Extract, report: LoadReport, echo) -> _Update:
    update = _Update()
    for name in KEPT:
        columns = HEADERS[f"{name}.csv"]
        deleted = update.deletes[name] = set()
        delete_name, insert_name = f"{name}_delete.csv", f"{name}_insert.csv"
        if extract.has(delete_name):
            file_report = report.files[delete_name] = FileReport(delete_name)
            rows = _Rows(extract, file_report, columns[:1])
            for (number_raw,) in rows:
                if len(number_raw) == 13:  # establishments and branches are not kept
                    file_report.ignored += 1
                    continue
                number = _enterprise_number(number_raw)
                if number is None:
                    file_report.problem(rows.line, f"{columns[0]} “{number_raw}” is not an enterprise number")
                    continue
                deleted.add(number)
                file_report.loaded += 1
            _echo_file(file_report, echo)
        inserted = update.inserts[name] = []
        if extract.has(insert_name):
            file_report = report.files[insert_name] = FileReport(insert_name)
            _table, parse = PARSERS[f"{name}.csv"]
            seen = set()
            for row in parse(_Rows(extract, file_report, columns), file_report):
                if name == "enterprise":
                    if row[0] in seen:
                        file_report.problem(None, f"enterprise {row[0]} appears twice (kept the first)")
                        continue
                    seen.add(row[0])
                    row = (*row[:4], date.fromisoformat(row[4]) if row[4] else None)
                inserted.append(row)
            file_report.loaded = len(inserted)
            _echo_file(file_report, echo)
    if extract.has("code.csv"):
        file_report = report.files["code.csv"] = FileReport("code.csv")
        update.codes = list(_codes(_Rows(extract, file_report), file_report))
        file_report.loaded = len(update.codes)
        _echo_file(file_report, echo)
    return update


def _chunks(values: list):
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _present(connection, numbers: list[str]) -> set[str]:
    number = LIVE.enterprise.c.number
    found = set()
    for chunk in _chunks(numbers):
        found.update(connection.execute(sa.select(number).where(number.in_(chunk))).scalars())
    return found


def _apply_update(connection, update: _Update, report: LoadReport, load_id: int) -> None:
    """In one transaction: the update's deletes, then its inserts, the counts, and load `load_id` made the active one."""
    sqlite = connection.dialect.name == "sqlite"
    numbers = sorted(update.numbers)
    with connection.begin():
        if not sa.inspect(connection).has_table("kbo_enterprise"):
            create_live(connection)  # forced onto an empty register
        before = _present(connection, numbers)
        for name in KEPT:
            table = getattr(LIVE, name)
            cleared = update.deletes[name] | {row[NUMBER_AT[name]] for row in update.inserts[name]}
            for chunk in _chunks(sorted(cleared)):
                if sqlite and name == "denomination":  # a contentless FTS5 index forgets a row given its text
                    old = connection.execute(sa.select(table.c.id, table.c.search).where(table.c.number.in_(chunk))).all()
                    if old:
                        connection.exec_driver_sql(
                            f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, search) VALUES ('delete', ?, ?)",
                            [tuple(row) for row in old])
                connection.execute(table.delete().where(table.c.number.in_(chunk)))
        for name in KEPT:
            table, rows = getattr(LIVE, name), update.inserts[name]
            if not rows:
                continue
            if name == "denomination":  # ids go on from the register's
                first = connection.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar()
                rows = [(first + row[0], *row[1:]) for row in rows]
            columns = [column for column, _type in COLUMNS[table.name]]
            connection.execute(table.insert(), [dict(zip(columns, row)) for row in rows])
            if sqlite and name == "denomination":
                connection.exec_driver_sql(f"INSERT INTO {SEARCH_TABLE} (rowid, search) VALUES (?, ?)",
                                           [(row[0], row[5]) for row in rows])
        if update.codes is not None:
            connection.execute(LIVE.code.delete())
            if update.codes:
                columns = [column for column, _type in COLUMNS["kbo_code"]]
                connection.execute(LIVE.code.insert(), [dict(zip(columns, row)) for row in update.codes])
        after = _present(connection, numbers)
        report.deleted, report.inserted, report.changed = len(before - after), len(after - before), len(before & after)
        report.enterprises = connection.execute(sa.select(sa.func.count()).select_from(LIVE.enterprise)).scalar()
        loads = RegisterLoad.__table__
        connection.execute(loads.update().where(loads.c.status == RegisterLoadStatus.ACTIVE.value)
                           .values(status=RegisterLoadStatus.REPLACED.value))
        connection.execute(loads.update().where(loads.c.id == load_id).values(
            status=RegisterLoadStatus.ACTIVE.value, finished_at=utcnow(), enterprises=report.enterprises,
            skipped_rows=report.skipped, enterprises_deleted=report.deleted, enterprises_inserted=report.inserted,
            enterprises_changed=report.changed))


def _fail_interrupted_loads() -> None:
    db.session.execute(
        sa.update(RegisterLoad)
        .where(RegisterLoad.status == RegisterLoadStatus.LOADING.value)
        .values(status=RegisterLoadStatus.FAILED.value, report_json=json.dumps({"error": "interrupted"}))
    )
    db.session.commit()


def _snapshot_date(raw: str | None) -> date | None:
    try:
        day, month, year = (int(p) for p in (raw or "").split("-"))
        return date(year, month, day)
    except ValueError:
        return None


def _inbox_order(path: Path) -> tuple:
    """Extracts in their number's order, a Full one before the update of the same number; unreadable ones last."""
    try:
        extract = Extract(path)
    except LoadError:
        return (1, 0, 0, path.name)
    try:
        number = extract.meta().get("ExtractNumber", "")
        return (0, int(number), extract.update, path.name) if number.isdigit() else (1, 0, 0, path.name)
    finally:
        extract.close()


def _file_away(path: Path, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    serial = 1
    while target.exists():
        serial += 1
        target = folder / f"{path.stem}.{serial}{path.suffix}"
    path.rename(target)


def load_inbox(folder: str | None) -> dict:
    """Load the extracts (folders or .zip files) waiting in `folder` (KBO_INBOX_DIR), in extract-number order; each
    loaded one goes to its `done/` subfolder, each refused one to `failed/` with the reason in the result. One run
    over the folder at a time (another would find an extract loaded but not yet moved, and refuse it); a run that
    finds another load holding the register stops and leaves the rest in place."""
    if not folder:
        return {"done": 0, "message": _("No folder configured (KBO_INBOX_DIR): nothing was picked up.")}
    inbox = Path(folder)
    if not inbox.is_dir():
        return {"done": 0, "message": _("The folder %(folder)s (KBO_INBOX_DIR) does not exist.", folder=folder)}
    loaded, refused = {}, {}
    try:
        with db.engine.connect() as connection, _exclusive(connection, INBOX_LOCK_KEY, "kbo-inbox-lock",
                                                           _("Another run is picking up the folder.")):
            waiting = sorted((path for path in inbox.iterdir() if path.name not in (DONE, FAILED)
                              and not path.name.startswith(".") and (path.is_dir() or path.suffix.lower() == ".zip")),
                             key=_inbox_order)
            for path in waiting:
                try:
                    report = load_register(path)
                except LoadBusy:
                    raise
                except LoadError as error:
                    refused[path.name] = str(error)
                    _file_away(path, inbox / FAILED)
                    continue
                loaded[path.name] = _summary(report)
                _file_away(path, inbox / DONE)
    except LoadBusy as busy:
        return {"done": len(loaded), "loaded": loaded, "refused": refused, "message": str(busy)}
    return {"done": len(loaded), "loaded": loaded, "refused": refused}


def _summary(report: LoadReport) -> str:
    if report.update:
        return _("extract %(number)s: %(deleted)s enterprises deleted, %(inserted)s inserted, %(changed)s changed; "
                 "%(flagged)s register changes for clients", number=report.extract_number, deleted=report.deleted,
                 inserted=report.inserted, changed=report.changed, flagged=len(report.flagged))
    return _("extract %(number)s: %(enterprises)s enterprises; %(flagged)s register changes for clients",
             number=report.extract_number, enterprises=report.enterprises, flagged=len(report.flagged))


def load_sample_register(echo=None) -> LoadReport | None:
    """The small sample extract shipped for the demo and tests, unless a register is already in use."""
    if RegisterLoad.active() is not None:
        return None
    return load_register(SAMPLE, echo=echo)
