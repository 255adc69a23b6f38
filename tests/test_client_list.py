"""The client list: scoping, a fixed number of statements per page, sorting, search and the streamed export."""
import csv
import io
import re
import sqlite3
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from clientdesk.extensions import db
from clientdesk.models import ClientIntegration, Document, IntegrationProduct, Role, Task

LIST_COLUMNS = (
    "name", "enterprise_number", "group", "firm_contact", "status", "integration",
    "peppol_send", "peppol_receive", "inbox_count", "onboarding_missing", "plan", "trial_end",
)


def listed_names(html: str) -> list[str]:
    return re.findall(r'<td class="col-name">(?:<form .*?</form>)? ?<a href="[^"]+">([^<]+)</a>', html)


class StatementCount:
    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.count = 0

    def _count(self, *args):
        self.count += 1

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.fixture
def teams(make):
    return make.group("Team Gent"), make.group("Team Liège")


def test_staff_see_the_clients_of_their_groups_that_are_not_hidden(make, as_user, teams):
    gent, liege = teams
    make.client(gent, name="Bakkerij Maes BV")
    make.client(gent, name="Verborgen NV", hidden=True)
    make.client(liege, name="Garage Dubois SRL")
    staff = make.user(Role.STAFF, groups=[gent])

    html = as_user(staff).get("/admin/client/").get_data(as_text=True)

    assert listed_names(html) == ["Bakkerij Maes BV"]


def test_supervisors_see_every_group_but_not_hidden_clients_and_admins_see_all(make, as_user, teams):
    gent, liege = teams
    make.client(gent, name="Bakkerij Maes BV")
    make.client(gent, name="Verborgen NV", hidden=True)
    make.client(liege, name="Garage Dubois SRL")

    supervisor_html = as_user(make.user(Role.SUPERVISOR)).get("/admin/client/").get_data(as_text=True)
    admin_html = as_user(make.user(Role.ADMIN)).get("/admin/client/").get_data(as_text=True)

    assert listed_names(supervisor_html) == ["Bakkerij Maes BV", "Garage Dubois SRL"]
    assert listed_names(admin_html) == ["Bakkerij Maes BV", "Garage Dubois SRL", "Verborgen NV"]
    assert admin_html.count('name="rowid" class="action-checkbox"') == 3  # admins select rows for list actions
    assert admin_html.count('action="/admin/client/delete/"') == 3


def _client_with_everything_listed(make, app, group, staff, n):
    client = make.client(group, name=f"Client {n:02d} BV", firm_contact_id=staff.id, trial_end=date(2026, 12, 1))
    with app.app_context():
        product = db.session.scalars(sa.select(IntegrationProduct).order_by(IntegrationProduct.id)).first()
        db.session.add(ClientIntegration(client_id=client.id, product_id=product.id, delivery_method="email"))
        db.session.add_all(
            Document(client_id=client.id, filename=f"{n}-{i}.pdf", storage_path=f"{n}/{i}.pdf", status="inbox")
            for i in range(2)
        )
        db.session.commit()
    return client


def test_a_list_page_costs_the_same_statements_for_one_client_or_a_full_page(app, make, as_user, teams):
    gent, _ = teams
    staff = make.user(Role.STAFF, groups=[gent])
    http = as_user(staff)
    _client_with_everything_listed(make, app, gent, staff, 0)
    http.get("/admin/client/")
    with StatementCount(app) as one:
        html = http.get("/admin/client/").get_data(as_text=True)
    assert listed_names(html) == ["Client 00 BV"]
    assert '<td class="col-integration">Admisol</td>' in html
    assert re.search(r'<td class="col-inbox_count"><a href="/admin/document/\?[^"]+">2</a></td>', html)

    for n in range(1, 25):
        _client_with_everything_listed(make, app, gent, staff, n)
    with StatementCount(app) as full:
        html = http.get("/admin/client/").get_data(as_text=True)

    assert len(listed_names(html)) == 25
    assert full.count == one.count


@pytest.mark.parametrize("index, column", list(enumerate(LIST_COLUMNS)))
def test_every_listed_column_sorts_both_ways(make, as_user, teams, index, column):
    gent, _ = teams
    make.client(gent, name="Alpha BV", status="active", trial_end=date(2026, 12, 1), plan=make.plan("Basic"))
    make.client(gent, name="Beta BV", status="created", plan=make.plan("Standard"))
    supervisor = as_user(make.user(Role.SUPERVISOR))

    for desc in ("", "&desc=1"):
        response = supervisor.get(f"/admin/client/?sort={index}{desc}")
        assert response.status_code == 200
        assert sorted(listed_names(response.get_data(as_text=True))) == ["Alpha BV", "Beta BV"]


def test_sorting_by_trial_end_orders_the_page(make, as_user, teams):
    gent, _ = teams
    for name, days in (("Late BV", 20), ("Early BV", 2), ("Middle BV", 10)):
        make.client(gent, name=name, status="active", trial_end=date(2026, 12, 1) + timedelta(days=days))
    supervisor = as_user(make.user(Role.SUPERVISOR))
    column = LIST_COLUMNS.index("trial_end")

    ascending = supervisor.get(f"/admin/client/?sort={column}").get_data(as_text=True)
    descending = supervisor.get(f"/admin/client/?sort={column}&desc=1").get_data(as_text=True)

    assert listed_names(ascending) == ["Early BV", "Middle BV", "Late BV"]
    assert listed_names(descending) == ["Late BV", "Middle BV", "Early BV"]


def test_sorting_by_inbox_count_counts_the_documents_in_the_inbox_only(app, make, as_user, teams):
    gent, _ = teams
    for name, inbox, sent in (("Two BV", 2, 0), ("None BV", 0, 3), ("One BV", 1, 5), ("Also none BV", 0, 0)):
        client = make.client(gent, name=name)
        with app.app_context():
            db.session.add_all(
                Document(client_id=client.id, filename=f"{name}-{i}.pdf", storage_path=f"{client.id}/{i}.pdf",
                         status="inbox" if i < inbox else "sent")
                for i in range(inbox + sent)
            )
            db.session.commit()
    supervisor = as_user(make.user(Role.SUPERVISOR))
    column = LIST_COLUMNS.index("inbox_count")

    ascending = listed_names(supervisor.get(f"/admin/client/?sort={column}").get_data(as_text=True))
    descending = listed_names(supervisor.get(f"/admin/client/?sort={column}&desc=1").get_data(as_text=True))

    assert ascending == ["None BV", "Also none BV", "One BV", "Two BV"]  # ties in creation order
    assert descending == ["Two BV", "One BV", "Also none BV", "None BV"]


def test_pages_sorted_on_a_column_with_ties_neither_repeat_nor_skip_clients(make, as_user, teams):
    gent, _ = teams
    for n in range(30):
        make.client(gent, name=f"Same Status {n:02d} BV", status="active")
    supervisor = as_user(make.user(Role.SUPERVISOR))
    column = LIST_COLUMNS.index("status")

    first = listed_names(supervisor.get(f"/admin/client/?sort={column}").get_data(as_text=True))
    second = listed_names(supervisor.get(f"/admin/client/?sort={column}&page=1").get_data(as_text=True))

    assert len(first) == 25 and len(second) == 5
    assert sorted(first + second) == [f"Same Status {n:02d} BV" for n in range(30)]


def test_search_finds_clients_by_part_of_their_name_within_the_users_groups(make, as_user, teams):
    gent, liege = teams
    make.client(gent, name="Brouwerij Peeters NV")
    make.client(gent, name="Garage Maes BV")
    make.client(liege, name="Pharmacie Peeters SRL")
    staff = make.user(Role.STAFF, groups=[gent])

    html = as_user(staff).get("/admin/client/?search=peeter").get_data(as_text=True)

    assert listed_names(html) == ["Brouwerij Peeters NV"]


def test_a_search_counts_its_matches_on_every_page(make, as_user, teams):
    gent, liege = teams
    for n in range(27):
        make.client(gent if n % 2 else liege, name=f"Peeters {n:02d} BV")
    make.client(gent, name="Verborgen Peeters NV", hidden=True)
    make.client(gent, name="Garage Maes BV")
    supervisor = as_user(make.user(Role.SUPERVISOR))

    pages = [supervisor.get(f"/admin/client/?search=peeters&page={page}").get_data(as_text=True) for page in (0, 1, 7)]

    assert [len(listed_names(html)) for html in pages] == [25, 2, 0]
    assert all(re.search(r"List\s*\(27\)", html) for html in pages)
    assert sorted(listed_names(pages[0]) + listed_names(pages[1])) == [f"Peeters {n:02d} BV" for n in range(27)]


def test_each_row_links_to_its_own_client_and_back_to_the_search(make, as_user, teams):
    gent, _liege = teams
    ids = {make.client(gent, name=f"Peeters row{n} BV").id for n in range(3)}
    supervisor = as_user(make.user(Role.SUPERVISOR))

    html = supervisor.get("/admin/client/?search=row").get_data(as_text=True)

    links = re.findall(r'href="/admin/client/(details|edit)/\?id=(\d+)&amp;url=([^"]+)"', html)
    assert {(kind, int(pk)) for kind, pk, _ in links} == {(kind, pk) for kind in ("details", "edit") for pk in ids}
    assert {back for _, _, back in links} == {"/admin/client/?search%3Drow%26page_size%3D25"}
    assert sorted(re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', html)) == sorted(map(str, ids))
    assert sorted(re.findall(r'name="id" value="(\d+)"><input type="hidden" name="next" value="/admin/client/\?search=row"',
                             html)) == sorted(map(str, ids))  # the favourite stars


def test_rows_of_other_lists_link_by_their_own_id_url_quoted(make, as_user, store):
    """Task ids are strings: the task list's icons carry each one quoted."""
    admin = make.user(Role.ADMIN)
    store.run(lambda s: s.add(Task(id="walk&run 1", kind="bulk_invite", description="Invite 3 clients", user_id=admin.id)))
    http = as_user(admin)

    html = http.get("/admin/task/").get_data(as_text=True)

    link = re.search(r'href="(/admin/task/details/\?id=walk%26run(?:\+|%20)1&amp;url=[^"]+)"', html)
    assert link is not None
    assert "Invite 3 clients" in http.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)


def test_filter_by_status_and_group(make, as_user, teams):
    gent, liege = teams
    make.client(gent, name="Active Gent BV", status="active")
    make.client(gent, name="Created Gent BV", status="created")
    make.client(liege, name="Active Liège SRL", status="active")
    supervisor = as_user(make.user(Role.SUPERVISOR))

    html = supervisor.get(
        f"/admin/client/?flt0_status_equals=active&flt1_group_equals={gent.id}"
    ).get_data(as_text=True)

    assert listed_names(html) == ["Active Gent BV"]


def test_export_streams_the_visible_clients_as_stored_values(make, as_user, teams):
    gent, _ = teams
    second = make.client(gent, name="=HYPERLINK(\"http://evil.example\") BV", peppol_send=True, trial_end=date(2026, 12, 1))
    first = make.client(gent, name="Bakkerij Maes BV")
    make.client(gent, name="Verborgen NV", hidden=True)
    supervisor = as_user(make.user(Role.SUPERVISOR))

    response = supervisor.get("/admin/client/export/csv/", buffered=False)

    assert response.status_code == 200 and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["id"] for row in rows] == [str(second.id), str(first.id)]  # id order
    assert rows[0]["name"] == "'=HYPERLINK(\"http://evil.example\") BV"  # neutralised (spreadsheets.py)
    assert (rows[0]["peppol_send"], rows[0]["trial_end"], rows[0]["group"]) == ("true", "2026-12-01", "Team Gent")
    assert (rows[1]["peppol_send"], rows[1]["trial_end"]) == ("false", "")
    assert rows[1]["contact_email"] == first.contacts[0].email


FORMULA_NAMES = ["x;=1+1 BV", "Shop, =HYPERLINK(\"http://evil.example\") NV", "Pipe|@SUM(A1) BV", "Tab\t-2+3 BV",
                 "Semi; +cmd BV", "=1+2 BV"]


def test_csv_export_quotes_every_field_and_no_separator_starts_a_formula(make, as_user, teams):
    """Belgian Excel splits a CSV on `;` (others on `,`, tab or `|`): after any of them, no cell may start a formula."""
    gent, _ = teams
    for name in FORMULA_NAMES:
        make.client(gent, name=name)
    body = as_user(make.user(Role.SUPERVISOR)).get("/admin/client/export/csv/").get_data(as_text=True).lstrip("\ufeff")

    rows = list(csv.reader(io.StringIO(body)))
    assert sorted(row[1] for row in rows[1:]) == sorted(
        ["x;'=1+1 BV", "Shop,' =HYPERLINK(\"http://evil.example\") NV", "Pipe|'@SUM(A1) BV", "Tab\t'-2+3 BV",
         "Semi;' +cmd BV", "'=1+2 BV"])
    for line in body.splitlines():
        assert re.fullmatch(r'"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*', line), line  # every field quoted
        cells = [cell.strip(' "') for cell in re.split(r"[;,\t|]", line)]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")], line


def test_xlsx_export_keeps_formula_like_names_as_text(make, as_user, teams):
    import openpyxl

    gent, _ = teams
    for name in FORMULA_NAMES:
        make.client(gent, name=name)
    response = as_user(make.user(Role.SUPERVISOR)).get("/admin/client/export/xlsx/")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    response.close()  # closes the spooled file it was sent from, as the WSGI server does
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert sorted(cell.value for cell in cells) == sorted(FORMULA_NAMES)  # as stored
    assert {cell.data_type for cell in cells} == {"s"}


def test_export_follows_the_lists_search(make, as_user, teams):
    gent, _ = teams
    make.client(gent, name="Brouwerij Peeters NV")
    make.client(gent, name="Garage Maes BV")
    supervisor = as_user(make.user(Role.SUPERVISOR))

    body = supervisor.get("/admin/client/export/csv/?search=peeters").get_data(as_text=True)

    assert [row["name"] for row in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))] == ["Brouwerij Peeters NV"]


def test_sqlite_planner_statistics_are_gathered_once_the_list_is_used(app, make, as_user, teams):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite upkeep")
    gent, liege = teams
    for n in range(30):
        make.client(gent if n % 2 else liege, name=f"Client {n} BV")
    staff = make.user(Role.STAFF, groups=[gent])
    with app.app_context():
        path = db.engine.url.database
    outside = sqlite3.connect(path)  # so the app's connections reload their schema, statistics gone
    outside.execute("DROP TABLE IF EXISTS sqlite_stat1")
    outside.close()

    as_user(staff).get("/admin/client/")

    with app.app_context():
        analysed = db.session.scalars(sa.text("SELECT idx FROM sqlite_stat1 WHERE tbl = 'client'")).all()
    assert "ix_client_scope" in analysed


LIST_COUNT = re.compile(r"List \((\d+)\)")


@pytest.fixture
def with_deactivated(make, teams):
    gent, _ = teams
    make.client(gent, name="Actief BV", status="active")
    make.client(gent, name="Gestopt BV", status="deactivated")
    make.client(gent, name="Nieuw BV", status="created")


def test_the_list_leaves_deactivated_clients_out_and_counts_what_it_shows(make, as_user, with_deactivated):
    page = as_user(make.user(Role.SUPERVISOR)).get("/admin/client/").text

    assert listed_names(page) == ["Actief BV", "Nieuw BV"]
    assert LIST_COUNT.search(page).group(1) == "2"
    assert 'href="/admin/client/?deactivated=shown"' in page and 'aria-checked="false"' in page


def test_the_switch_shows_them_and_keeps_the_other_arguments(make, as_user, with_deactivated, teams):
    gent, _ = teams
    http = as_user(make.user(Role.SUPERVISOR))

    shown = http.get("/admin/client/?deactivated=shown").text
    grouped = http.get(f"/admin/client/?flt0_group_equals={gent.id}&deactivated=shown&page=0").text

    assert listed_names(shown) == ["Actief BV", "Gestopt BV", "Nieuw BV"] and LIST_COUNT.search(shown).group(1) == "3"
    assert 'aria-checked="true"' in shown and 'href="/admin/client/"' in shown  # the switch turns it off again
    assert listed_names(grouped) == ["Actief BV", "Gestopt BV", "Nieuw BV"]
    assert f'href="/admin/client/?flt0_group_equals={gent.id}"' in grouped


def test_the_status_filter_shows_the_deactivated_clients(make, as_user, with_deactivated):
    http = as_user(make.user(Role.SUPERVISOR))

    deactivated = http.get("/admin/client/?flt0_status_equals=deactivated").text
    active = http.get("/admin/client/?flt0_status_equals=active").text

    assert listed_names(deactivated) == ["Gestopt BV"] and LIST_COUNT.search(deactivated).group(1) == "1"
    assert listed_names(active) == ["Actief BV"]


def test_search_and_export_follow_the_list_and_the_page_stays_reachable(make, as_user, with_deactivated, store):
    from clientdesk.models import Client

    http = as_user(make.user(Role.SUPERVISOR))
    gone = store.run(lambda s: s.scalars(sa.select(Client).where(Client.name == "Gestopt BV")).one())

    assert listed_names(http.get("/admin/client/?search=BV").text) == ["Actief BV", "Nieuw BV"]
    assert listed_names(http.get("/admin/client/?search=BV&deactivated=shown").text) == ["Actief BV", "Gestopt BV", "Nieuw BV"]
    assert "Gestopt BV" not in http.get("/admin/client/export/csv/").text
    assert "Gestopt BV" in http.get("/admin/client/export/csv/?deactivated=shown").text
    assert http.get(f"/admin/client/details/?id={gone.id}").status_code == 200


def test_client_pick_lists_offer_no_deactivated_client(make, as_user, with_deactivated):
    http = as_user(make.user(Role.SUPERVISOR))

    found = http.get("/admin/contact/ajax/lookup/?name=client&query=BV").json

    assert sorted(name for _id, name in found) == ["Actief BV", "Nieuw BV"]


@pytest.mark.parametrize("language, label", [("fr", "Afficher les clients désactivés"), ("nl", "Gedeactiveerde klanten tonen"),
                                             ("de", "Deaktivierte Kunden anzeigen")])
def test_the_switch_speaks_the_users_language(make, as_user, store, language, label):
    from clientdesk.models import User

    user = make.user(Role.SUPERVISOR)
    store.update(User, user.id, ui_language=language)

    assert label in as_user(user).get("/admin/client/").text
