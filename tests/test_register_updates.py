"""KBO/BCE update extracts: applied to the register in one transaction after the register's extract (or refused,
nothing written), searches kept in step; what changed for the firm's clients flagged for staff, never written into the
client; the client page's "Register changes" (apply, dismiss, scoped, CSRF), the list filter and the dashboard number;
the schedule that picks the extracts up from KBO_INBOX_DIR, with real workers."""
import re
import zipfile
from pathlib import Path

import pytest

from clientdesk import schedule
from clientdesk.extensions import db
from clientdesk.models import AuditEvent, Client, Notification, RegisterChange, RegisterLoad, Role, Task
from clientdesk.services import kbo_loader
from clientdesk.services.kbo_loader import LoadError, load_inbox, load_register
from clientdesk.services.register import LocalRegister
from tests.helpers import post
from tests.servers import start_worker, stop_process, wait_for
from tests.test_dashboard import LIST_COUNT, dashboard_links
from tests.test_register_loader import ADDRESS, CONTACT, DENOMINATION, ENTERPRISE, extract
from tests.test_schedule import only_schedule

# Four enterprises (check digits valid): Electrabel, AB InBev, Proximus, bpost.
ELECTRABEL, INBEV, PROXIMUS, BPOST = "0403.170.701", "0417.497.106", "0202.239.951", "0214.596.464"
FULL_ENTERPRISES = "".join(f'"{n}","AC","000","2","014",,01-01-2000\n' for n in (ELECTRABEL, INBEV, PROXIMUS))
FULL_NAMES = (f'"{ELECTRABEL}","2","001","Electrabel"\n"{INBEV}","2","001","AB InBev"\n'
              f'"{PROXIMUS}","1","001","Proximus"\n"{PROXIMUS}","1","002","PXS"\n')
FULL_ADDRESSES = (f'"{ELECTRABEL}","REGO",,,"1000","Brussel","Bruxelles","Simon Bolivarlaan","Boulevard Simon Bolivar",'
                  '"34",,,\n'
                  f'"{PROXIMUS}","REGO",,,"1030","Schaarbeek","Schaerbeek","Koning Albert II-laan","Boulevard du Roi Albert II",'
                  '"27",,,\n')


def compact(number: str) -> str:
    return number.replace(".", "")


def full(tmp_path, number="900"):
    return extract(tmp_path / f"full-{number}", FULL_ENTERPRISES, FULL_NAMES, address=FULL_ADDRESSES, contact="",
                   meta_number=number)


def update(folder: Path, number="901", files: dict | None = None, extract_type="update") -> Path:
    """An update extract: `files` {"enterprise_delete": [numbers], "enterprise_insert": "csv rows", ...}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.csv").write_text(f'"Variable","Value"\n"SnapshotDate","02-11-2026"\n"ExtractType","{extract_type}"\n'
                                     f'"ExtractNumber","{number}"\n')
    headers = {"enterprise": ENTERPRISE, "denomination": DENOMINATION, "address": ADDRESS, "contact": CONTACT}
    for name, header in headers.items():
        deleted = (files or {}).get(f"{name}_delete", [])
        key = header.split(",")[0]
        (folder / f"{name}_delete.csv").write_text(key + "\n" + "".join(f'"{n}"\n' for n in deleted), encoding="utf-8")
        (folder / f"{name}_insert.csv").write_text(header + (files or {}).get(f"{name}_insert", ""), encoding="utf-8")
    return folder


def the_day_after(tmp_path, number="901"):
    """bpost enters, AB InBev stops, Proximus is renamed and moves; Electrabel only changes its phone."""
    return update(tmp_path / f"update-{number}", number, {
        "enterprise_delete": [INBEV, PROXIMUS],
        "enterprise_insert": f'"{PROXIMUS}","AC","000","2","014",,01-01-2000\n"{BPOST}","AC","000","2","014",,01-01-2001\n',
        "denomination_delete": [INBEV, PROXIMUS],
        "denomination_insert": f'"{PROXIMUS}","1","001","Proximus Group"\n"{BPOST}","1","001","bpost"\n',
        "address_delete": [PROXIMUS],
        "address_insert": f'"{PROXIMUS}","REGO",,,"1000","Brussel","Bruxelles","Grote Markt","Grand-Place","1",,,\n',
        "contact_delete": [ELECTRABEL],
        "contact_insert": f'"{ELECTRABEL}","ENT","TEL","02 518 61 11"\n',
    })


def names_found(query: str) -> list[str]:
    return [company.name for company in LocalRegister().search(query)]


def test_an_update_deletes_then_inserts_keeps_searches_in_step_and_is_recorded(tmp_path, db_session):
    load_register(full(tmp_path))
    assert names_found("pxs") == ["Proximus"]

    report = load_register(the_day_after(tmp_path))

    assert (report.update, report.deleted, report.inserted, report.changed, report.enterprises) == (True, 1, 1, 2, 3)
    register = LocalRegister()
    assert register.get(compact(INBEV)) is None
    proximus = register.get(compact(PROXIMUS))
    assert proximus.name == "Proximus Group" and proximus.other_names == ()
    assert (proximus.street, proximus.house_number, proximus.postal_code) == ("Grand-Place", "1", "1000")
    assert register.get(compact(ELECTRABEL)).phone == "02 518 61 11"
    assert register.get(compact(BPOST)).name == "bpost"
    # The name index follows: new names are found, removed ones are not.
    assert names_found("proximus gr") == ["Proximus Group"] and names_found("group") == ["Proximus Group"]
    assert names_found("pxs") == [] and names_found("inbev") == [] and names_found("bpost") == ["bpost"]
    loads = db_session.query(RegisterLoad).order_by(RegisterLoad.id).all()
    assert [(row.extract_number, row.extract_type, row.status) for row in loads] == [
        ("900", "full", "replaced"), ("901", "update", "active")]
    active = RegisterLoad.active()
    assert (active.enterprises, active.enterprises_deleted, active.enterprises_inserted, active.enterprises_changed) == (3, 1, 1, 2)


def test_malformed_update_rows_are_skipped_and_reported(tmp_path, db_session):
    load_register(full(tmp_path))
    folder = update(tmp_path / "u", "901", {
        "enterprise_insert": f'"{BPOST}","AC","000","2","014",,01-01-2001\n"0214.596.465","AC","000","2","014",,01-01-2001\n'
                             f'"{BPOST}","AC","000","2","014",,01-01-2001\n',
        "denomination_delete": ["0403.17.0701", "2.000.000.339"],
        "denomination_insert": f'"{BPOST}","1","001",""\n"{BPOST}","1","001","bpost"\n',
    })
    report = load_register(folder)

    inserted = report.files["enterprise_insert.csv"]
    assert (inserted.rows, inserted.loaded, inserted.skipped) == (3, 1, 2)
    assert any("0214.596.465" in p and "line 3" in p for p in inserted.problems)
    assert any("appears twice" in p for p in inserted.problems)
    deleted = report.files["denomination_delete.csv"]
    assert (deleted.loaded, deleted.ignored, deleted.skipped) == (0, 1, 1)
    assert report.files["denomination_insert.csv"].skipped == 1
    assert RegisterLoad.active().skipped_rows == 4 and LocalRegister().get(compact(BPOST)).name == "bpost"


def test_an_update_out_of_order_or_without_register_is_refused_with_nothing_written(tmp_path, db_session):
    with pytest.raises(LoadError, match="No company register is loaded"):
        load_register(the_day_after(tmp_path))
    load_register(full(tmp_path))
    for number, expected in (("903", "next update to apply is extract 901"), ("900", "next update to apply is extract 901")):
        with pytest.raises(LoadError, match=expected):
            load_register(the_day_after(tmp_path, number))
    assert db_session.query(RegisterLoad).count() == 1 and LocalRegister().get(compact(INBEV)) is not None

    forced = load_register(the_day_after(tmp_path, "903"), force=True)
    assert forced.deleted == 1 and RegisterLoad.active().extract_number == "903"
    # The one after the forced one is in order again.
    load_register(update(tmp_path / "u904", "904", {"enterprise_delete": [BPOST]}))
    assert LocalRegister().get(compact(BPOST)) is None


def test_a_failing_update_writes_nothing(tmp_path, db_session):
    load_register(full(tmp_path))
    folder = the_day_after(tmp_path)
    (folder / "address_insert.csv").write_text('"EntityNumber","Zipcode"\n"0403.170.701","1000"\n')
    with pytest.raises(LoadError, match="address_insert.csv has no column TypeOfAddress"):
        load_register(folder)
    assert LocalRegister().get(compact(INBEV)) is not None and names_found("pxs") == ["Proximus"]
    assert RegisterLoad.active().extract_number == "900"


def test_the_update_zip_as_downloaded(tmp_path, db_session):
    load_register(full(tmp_path))
    folder = the_day_after(tmp_path)
    archive = tmp_path / "KboOpenData_0901_2026_11_02_Update.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.iterdir():
            zipped.write(path, f"KboOpenData_0901_2026_11_02_Update/{path.name}")
    assert load_register(archive).inserted == 1


# What changed for the firm's clients

@pytest.fixture
def clients(make):
    team = make.group("Team Register")
    return {
        "electrabel": make.client(team, name="Electrabel SA", enterprise_number=compact(ELECTRABEL), status="active"),
        "inbev": make.client(team, name="AB InBev NV", enterprise_number=compact(INBEV), status="active"),
        "proximus": make.client(team, name="Proximus SA", enterprise_number=compact(PROXIMUS), status="active",
                                street="Boulevard du Roi Albert II", house_number="27", postal_code="1030", city="Schaerbeek",
                                language="fr-BE"),
        "team": team,
    }


def open_changes(store, client) -> dict:
    return {row.field: [row.old_value, row.new_value] for row in store.all(RegisterChange, client_id=client.id, state="open")}


def test_clients_whose_register_data_changed_are_flagged_never_overwritten(tmp_path, clients, store, app):
    with app.app_context():
        load_register(full(tmp_path))
        report = load_register(the_day_after(tmp_path))

    assert len(report.flagged) == 3
    assert open_changes(store, clients["electrabel"]) == {}  # only its phone changed
    assert open_changes(store, clients["inbev"]) == {"status": ["active", "stopped"]}
    changes = open_changes(store, clients["proximus"])
    assert changes["name"] == ["Proximus", "Proximus Group"]
    old_address, new_address = changes["address"]
    assert (old_address["street"], new_address["street"], new_address["postal_code"]) == (
        "Boulevard du Roi Albert II", "Grand-Place", "1000")
    proximus = store.get(Client, clients["proximus"].id)
    assert (proximus.name, proximus.street) == ("Proximus SA", "Boulevard du Roi Albert II")  # the client's own fields
    load = store.one(RegisterLoad, extract_number="901")
    assert {row.register_load_id for row in store.all(RegisterChange)} == {load.id}
    assert load.report["client_changes"] == 3

    # The next day the name goes back: its open change goes away. A Full extract is compared the same way.
    with app.app_context():
        load_register(update(tmp_path / "u902", "902", {
            "denomination_delete": [PROXIMUS], "denomination_insert": f'"{PROXIMUS}","1","001","Proximus"\n'}))
        assert set(open_changes(store, clients["proximus"])) == {"address"}
        renamed = extract(tmp_path / "full-903", FULL_ENTERPRISES, FULL_NAMES.replace('"Electrabel"', '"Electrabel Engie"'),
                          address=FULL_ADDRESSES, contact="", meta_number="903")
        flagged = [row.field for row in load_register(renamed).flagged]
    assert flagged == ["name"]
    assert open_changes(store, clients["electrabel"]) == {"name": ["Electrabel", "Electrabel Engie"]}
    assert open_changes(store, clients["proximus"]) == {}  # its seat is back where it was: nothing to review
    assert open_changes(store, clients["inbev"]) == {}  # back in the register: its stop is no news any more


def test_the_firm_contact_is_told_once_per_client_of_what_changed(tmp_path, clients, make, store, app):
    contact = make.user(Role.STAFF, groups=[clients["team"]])
    store.update(Client, clients["proximus"].id, firm_contact_id=contact.id)
    with app.app_context():
        load_register(full(tmp_path))
        load_register(the_day_after(tmp_path))

    told, = store.all(Notification, user_id=contact.id)
    assert (told.kind, told.client_id, told.params["fields"]) == ("register_change", clients["proximus"].id, ["address", "name"])


def test_the_cli_applies_an_update_and_refuses_one_out_of_order(app, tmp_path, clients):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["kbo", "load", str(full(tmp_path)), "--recheck-now"]).exit_code == 0

    result = runner.invoke(args=["kbo", "load", str(the_day_after(tmp_path)), "--recheck-now"])
    assert result.exit_code == 0, result.output
    assert "Applied update extract 901: 1 enterprises deleted, 1 inserted, 2 changed" in result.output
    assert "3 register changes for clients to review" in result.output
    refused = runner.invoke(args=["kbo", "load", str(the_day_after(tmp_path, "905"))])
    assert refused.exit_code == 1 and "next update to apply is extract 902" in refused.output


# The client page, the list filter, the dashboard

def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def flagged(app, tmp_path, clients, store):
    with app.app_context():
        load_register(full(tmp_path))
        load_register(the_day_after(tmp_path))
    return {row.field: row for row in store.all(RegisterChange, client_id=clients["proximus"].id)}


def test_staff_apply_and_dismiss_register_changes_audited(app, make, clients, flagged, as_user, store):
    staff_user = make.user(Role.STAFF, groups=[clients["team"]])
    staff = as_user(staff_user)
    proximus = clients["proximus"]
    page = staff.get(f"/admin/client/details/?id={proximus.id}").text
    assert 'id="tab-register"' in page and f'data-register-change="{flagged["name"].id}"' in page
    assert "Proximus → Proximus Group" in text_of(page)
    assert "Boulevard du Roi Albert II 27, 1030 Schaerbeek → Grand-Place 1, 1000 Bruxelles" in text_of(page)

    dashboard = staff.get("/admin/").text
    assert "2 clients whose name, seat address or status changed in the company register" in text_of(dashboard)
    [(href, number)] = [(href, n) for href, n in dashboard_links(dashboard) if "register_changes" in href]
    assert "flt0_register_changes_are=open" in href
    listed = staff.get(href).text
    assert number == 2 and int(LIST_COUNT.search(listed).group(1)) == 2 and "Proximus SA" in listed

    applied = post(staff, "/admin/client/register-change/", {"id": flagged["name"].id, "decision": "apply"})
    assert applied.status_code == 302 and applied.headers["Location"].endswith("#register")
    assert store.get(Client, proximus.id).name == "Proximus Group"
    change = store.get(RegisterChange, flagged["name"].id)
    assert (change.state, change.acknowledged_by_id) == ("applied", staff_user.id) and change.acknowledged_at
    again = post(staff, "/admin/client/register-change/", {"id": change.id, "decision": "apply"}, follow_redirects=True)
    assert "already applied to the client" in text_of(again.text)

    address = post(staff, "/admin/client/register-change/", {"id": flagged["address"].id, "decision": "apply"})
    assert address.status_code == 302
    moved = store.get(Client, proximus.id)
    assert (moved.street, moved.house_number, moved.postal_code, moved.city) == ("Grand-Place", "1", "1000", "Bruxelles")

    inbev_change = store.one(RegisterChange, client_id=clients["inbev"].id)
    status_page = staff.get(f"/admin/client/details/?id={clients['inbev'].id}").text
    assert "no longer in the register (stopped or struck off)" in status_page and "Apply to client" not in status_page
    refused = post(staff, "/admin/client/register-change/", {"id": inbev_change.id, "decision": "apply"}, follow_redirects=True)
    assert "has nothing to copy" in text_of(refused.text)
    assert post(staff, "/admin/client/register-change/", {"id": inbev_change.id, "decision": "dismiss"}).status_code == 302
    assert store.get(RegisterChange, inbev_change.id).state == "dismissed"
    assert store.get(Client, clients["inbev"].id).status == "active"

    events = {(e.actor, e.action, e.object_type) for e in store.all(AuditEvent)}
    assert {(staff_user.email, "apply_register_change", "client"),
            (staff_user.email, "apply_register_change", "register_change"),
            (staff_user.email, "dismiss_register_change", "register_change")} <= events
    assert any(e.action == "register_update" and e.object_type == "register_change" for e in store.all(AuditEvent))
    assert "0 clients whose name" in text_of(staff.get("/admin/").text)
    assert "Reviewed" in staff.get(f"/admin/client/details/?id={proximus.id}").text


def test_a_register_value_the_client_cannot_take_is_not_applied(make, clients, flagged, as_user, store):
    store.update(RegisterChange, flagged["name"].id, new_json='"' + "N" * 201 + '"')
    staff = as_user(make.user(Role.STAFF, groups=[clients["team"]]))
    refused = post(staff, "/admin/client/register-change/", {"id": flagged["name"].id, "decision": "apply"},
                   follow_redirects=True)
    assert "longer than the 200 characters" in text_of(refused.text)
    assert store.get(RegisterChange, flagged["name"].id).state == "open"
    assert store.get(Client, clients["proximus"].id).name == "Proximus SA"


def test_register_changes_are_scoped_and_need_csrf(app, make, clients, flagged, as_user, store):
    change = flagged["name"]
    outsider = as_user(make.user(Role.STAFF, groups=[make.group("Elsewhere")]))
    for decision in ("apply", "dismiss"):
        assert post(outsider, "/admin/client/register-change/", {"id": change.id, "decision": decision}).status_code == 404
    assert post(outsider, "/admin/client/register-change/", {"id": 999999, "decision": "apply"}).status_code == 404
    assert post(outsider, "/admin/client/register-change/", {"id": "x", "decision": "apply"}).status_code == 404
    assert "Proximus SA" not in outsider.get("/admin/client/?flt0_register_changes_are=open").text
    assert "0 clients whose name" in text_of(outsider.get("/admin/").text)

    staff = as_user(make.user(Role.STAFF, groups=[clients["team"]]))
    no_token = staff.post("/admin/client/register-change/", data={"id": change.id, "decision": "apply"})
    assert no_token.status_code == 400
    assert post(staff, "/admin/client/register-change/", {"id": change.id, "decision": "both"}).status_code == 400
    store.update(Client, clients["proximus"].id, hidden=True)
    supervisor = as_user(make.user(Role.SUPERVISOR))
    assert post(supervisor, "/admin/client/register-change/", {"id": change.id, "decision": "apply"}).status_code == 404
    assert store.get(RegisterChange, change.id).state == "open" and store.get(Client, clients["proximus"].id).name == "Proximus SA"


# The schedule

def test_the_inbox_loads_in_order_and_files_each_extract_away(app, tmp_path, clients, store):
    inbox = tmp_path / "inbox"
    with app.app_context():
        assert load_inbox(None) == {"done": 0, "message": "No folder configured (KBO_INBOX_DIR): nothing was picked up."}
        full(inbox, "900")
        update(inbox / "b-902", "902", {"enterprise_delete": [BPOST]})
        the_day_after(inbox, "901").rename(inbox / "c-901")
        update(inbox / "a-904", "904", {"enterprise_delete": [ELECTRABEL]})
        (inbox / "notes.txt").write_text("not an extract")
        result = load_inbox(str(inbox))

    assert result["done"] == 3 and list(result["loaded"]) == ["full-900", "c-901", "b-902"]
    assert "1 enterprises deleted" in result["loaded"]["c-901"] and "3 register changes" in result["loaded"]["c-901"]
    assert list(result["refused"]) == ["a-904"] and "next update to apply is extract 903" in result["refused"]["a-904"]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["b-902", "c-901", "full-900"]
    assert [p.name for p in (inbox / "failed").iterdir()] == ["a-904"]
    assert (inbox / "notes.txt").exists() and store.one(RegisterLoad, status="active").extract_number == "902"


def test_a_run_that_finds_the_register_busy_leaves_the_extracts_in_place(app, tmp_path):
    inbox = tmp_path / "inbox"
    full(inbox, "900")
    with app.app_context(), db.engine.connect() as connection, kbo_loader._exclusive(connection):  # a `kbo load` running
        result = load_inbox(str(inbox))
    assert result["done"] == 0 and result["message"] == "Another kbo load is running on this database; wait for it to finish."
    assert (inbox / "full-900").is_dir() and not (inbox / "failed").exists()


def test_two_scheduling_workers_pick_up_the_inbox_once(app, app_config, tmp_path, clients, store, make, as_user):
    inbox = tmp_path / "inbox"
    full(inbox, "900")
    the_day_after(inbox, "901")
    update(inbox / "update-903", "903", {"enterprise_delete": [BPOST]})
    env = only_schedule("kbo_updates", KBO_INBOX_DIR=str(inbox))
    workers = [start_worker(app_config, "--with-scheduler", **env) for _ in range(2)]
    try:
        wait_for(lambda: (inbox / "failed" / "update-903").exists(), timeout=60)
        runs = store.count(Task, schedule="kbo_updates", status="finished")
        wait_for(lambda: store.count(Task, schedule="kbo_updates", status="finished") >= runs + 2, timeout=30)
    finally:
        for worker in workers:
            stop_process(worker)
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["full-900", "update-901"]
    assert store.count(RegisterLoad) == 2 and store.one(RegisterLoad, status="active").extract_number == "901"
    assert store.count(RegisterChange, client_id=clients["proximus"].id) == 2  # flagged once, whatever the runs
    [picked] = [task for task in store.all(Task, schedule="kbo_updates") if task.result.get("done")]
    assert list(picked.result["loaded"]) == ["full-900", "update-901"]
    assert "next update to apply is extract 902" in picked.result["refused"]["update-903"]
    page = as_user(make.user(Role.ADMIN)).get(f"/admin/task/details/?id={picked.id}").text
    assert "update-901" in page and "Refused (moved to failed/)" in page


def test_the_schedule_is_listed_with_its_folder(app, monkeypatch):
    runs = schedule.BY_NAME["kbo_updates"]
    assert runs.default == "15 6 * * *" and runs.setting == "SCHEDULE_KBO_UPDATES"
    with app.test_request_context():
        assert "no folder configured" in runs.describe(app.config)
        monkeypatch.setitem(app.config, "KBO_INBOX_DIR", "/srv/kbo")
        assert "/srv/kbo (KBO_INBOX_DIR)" in runs.describe(app.config)
