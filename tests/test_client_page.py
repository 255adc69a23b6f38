"""The client page and the per-user comforts of the client list: favourites, saved views, notes, hiding."""
import re
from datetime import datetime, time, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from clientdesk.extensions import db
from clientdesk.models import AuditEvent, Client, ClientNote, Invitation, Role, SavedFilter, User, utcnow
from tests.helpers import flashes, post


def listed(html):
    return re.findall(r'<td class="col-name">(?:<form .*?</form>)? ?<a href="[^"]+">([^<]+)</a>', html)


def test_favourites_come_first_for_their_user_only(make, as_user):
    group = make.group("Team")
    for name in ("Alpha BV", "Beta BV", "Gamma BV"):
        make.client(group, name=name)
    gamma = make.client(group, name="Zeta BV")
    anna, ben = make.user(Role.STAFF, groups=[group]), make.user(Role.STAFF, groups=[group])
    http = as_user(anna)
    assert post(http, "/admin/client/favourite/", {"id": gamma.id, "next": "/admin/client/"}).headers["Location"] == "/admin/client/"
    assert listed(http.get("/admin/client/").text) == ["Zeta BV", "Alpha BV", "Beta BV", "Gamma BV"]
    assert 'aria-pressed="true"' in http.get("/admin/client/").text
    assert listed(as_user(ben).get("/admin/client/").text)[0] == "Alpha BV"
    post(http, "/admin/client/favourite/", {"id": gamma.id})  # toggles off
    assert listed(http.get("/admin/client/").text)[0] == "Alpha BV"


def test_favourite_of_another_groups_client_answers_404(make, as_user):
    other = make.client(make.group("Other"))
    staff = make.user(Role.STAFF, groups=[make.group("Mine")])
    assert post(as_user(staff), "/admin/client/favourite/", {"id": other.id}).status_code == 404


def test_only_admins_hide_and_the_change_is_audited(make, as_user, store):
    group = make.group("Team")
    acme = make.client(group, name="Acme BV")
    staff, supervisor, admin = make.user(Role.STAFF, groups=[group]), make.user(Role.SUPERVISOR), make.user(Role.ADMIN)
    assert post(as_user(supervisor), "/admin/client/hide/", {"id": acme.id, "hidden": "1"}).status_code == 403
    http = as_user(admin)
    response = post(http, "/admin/client/hide/", {"id": acme.id, "hidden": "1"})
    assert response.headers["Location"].endswith("#overview")
    assert store.get(Client, acme.id).hidden is True
    assert as_user(staff).get(f"/admin/client/details/?id={acme.id}").status_code == 404
    assert store.one(AuditEvent, action="hide").changes["hidden"] == [False, True]
    post(http, "/admin/client/hide/", {"id": acme.id, "hidden": "0"})
    assert as_user(staff).get(f"/admin/client/details/?id={acme.id}").status_code == 200


def test_notes_on_the_client_page(make, as_user, store):
    group = make.group("Team")
    acme = make.client(group)
    staff = make.user(Role.STAFF, groups=[group])
    http = as_user(staff)
    empty = post(http, "/admin/client/note/", {"id": acme.id, "text": "   "}, follow_redirects=True)
    assert "The note is empty." in flashes(empty.text)
    response = post(http, "/admin/client/note/", {"id": acme.id, "text": "Called Jan: bank statements follow Monday.",
                                                   "next": f"/admin/client/details/?id={acme.id}#activity"})
    assert response.headers["Location"] == f"/admin/client/details/?id={acme.id}#activity"
    note = store.one(ClientNote, client_id=acme.id)
    assert note.author_id == staff.id
    assert "Called Jan: bank statements follow Monday." in http.get(f"/admin/client/details/?id={acme.id}").text
    other = make.client(make.group("Other"))
    assert post(http, "/admin/client/note/", {"id": other.id, "text": "x"}).status_code == 404


def test_buttons_land_back_on_their_tab_and_never_off_site(make, as_user):
    group = make.group("Team")
    acme = make.client(group)
    http = as_user(make.user(Role.STAFF, groups=[group]))
    back = post(http, "/admin/client/lifecycle/", {"id": acme.id, "action": "deactivate",
                                                   "next": f"/admin/client/details/?id={acme.id}#contacts"})
    assert back.status_code == 403  # staff may not deactivate; the check comes first
    evil = post(http, "/admin/client/note/", {"id": acme.id, "text": "hi", "next": "https://evil.example/"})
    assert evil.headers["Location"] == f"/admin/client/details/?id={acme.id}#activity"
    evil = post(http, "/admin/client/note/", {"id": acme.id, "text": "hi", "next": "//evil.example/"})
    assert evil.headers["Location"].startswith("/admin/client/details/")


def test_client_page_tabs(make, as_user):
    group = make.group("Team")
    acme = make.client(group, contacts=2)
    page = as_user(make.user(Role.ADMIN)).get(f"/admin/client/details/?id={acme.id}").text
    for tab in ("overview", "contacts", "documents", "integration", "senders", "bank", "activity"):
        assert f'id="tab-{tab}"' in page and f'id="{tab}" role="tabpanel"' in page
    assert acme.contacts[1].email in page and "Hide from staff" in page


def test_saved_views_per_user(make, as_user, store):
    group = make.group("Team")
    make.client(group, name="Invited BV", status="invited")
    make.client(group, name="Created BV")
    anna, ben = make.user(Role.SUPERVISOR), make.user(Role.SUPERVISOR)
    http = as_user(anna)
    response = post(http, "/admin/client/views/save/", {
        "name": "Anna: invited", "query": "flt0_status_equals=invited&evil=1&next=https://x.example"})
    assert response.headers["Location"].startswith("/admin/client/?flt0_status_equals=invited&columns=name%2C")
    saved = store.one(SavedFilter, user_id=anna.id)
    assert saved.query == "flt0_status_equals=invited"
    page = http.get("/admin/client/").text
    assert "Anna: invited" in page and "/admin/client/?flt0_status_equals=invited" in page
    assert listed(http.get("/admin/client/?" + saved.query).text) == ["Invited BV"]
    assert "Anna: invited" not in as_user(ben).get("/admin/client/").text
    assert post(as_user(ben), "/admin/client/views/delete/", {"id": saved.id}).status_code == 404
    post(http, "/admin/client/views/delete/", {"id": saved.id})
    assert store.count(SavedFilter) == 0
    unnamed = post(http, "/admin/client/views/save/", {"name": " ", "query": ""}, follow_redirects=True)
    assert "Give the view a name." in flashes(unnamed.text)


def _invited(make, store, group, expires_in: timedelta, **fields):
    """An invited client whose invitation e-mail went out and whose link ends `expires_in` from now."""
    expires_at = utcnow() + expires_in
    client = make.client(group, status="invited", invitation_expires_at=expires_at, **fields)
    store.run(lambda s: s.add(Invitation(client_id=client.id, contact_id=client.contacts[0].id, token_hash=f"{client.id:064d}",
                                         status="sent", sent_at=utcnow(), expires_at=expires_at)))
    return client


def later_today() -> timedelta:
    """From now to halfway to midnight in Brussels: a moment still today there, however late the test runs (a fixed
    few minutes ahead is tomorrow in the last minutes of the day)."""
    now = datetime.now(ZoneInfo("Europe/Brussels"))
    return (datetime.combine(now.date() + timedelta(days=1), time(), now.tzinfo) - now) / 2


@pytest.mark.parametrize("expires_in, list_note, page_note", [
    (later_today, "expires today", "(expires today)"),
    (lambda: timedelta(days=1), "expires tomorrow", "(expires tomorrow)"),
    (lambda: timedelta(days=5, minutes=1), "5 days left", "(5 days left)"),
])
def test_an_invitation_says_when_its_link_expires_in_words(make, store, as_user, expires_in, list_note, page_note):
    group = make.group("Team")
    acme = _invited(make, store, group, expires_in())
    http = as_user(make.user(Role.STAFF, groups=[group]))
    listed_note = re.search(r'<td class="col-status">.*?<small class="text-muted">([^<]+)</small>', http.get("/admin/client/").text)
    assert listed_note.group(1) == list_note
    page = http.get(f"/admin/client/details/?id={acme.id}").text
    assert page_note in page and "0 days" not in page and "1 day" not in page


def test_the_expiry_and_the_trial_end_in_french_and_dutch(make, store, as_user):
    today = datetime.now(ZoneInfo("Europe/Brussels")).date()
    group = make.group("Team")
    today_client = _invited(make, store, group, later_today(), trial_end=today)
    _invited(make, store, group, timedelta(days=1), trial_end=today + timedelta(days=1))
    _invited(make, store, group, timedelta(days=3, minutes=1), trial_end=today + timedelta(days=3))
    user = make.user(Role.STAFF, groups=[group])
    for language, words in {
        "fr": ["expire aujourd'hui", "expire demain", "3 jours restants", "se termine aujourd'hui", "se termine demain"],
        "nl": ["verloopt vandaag", "verloopt morgen", "nog 3 dagen", "eindigt vandaag", "eindigt morgen"],
    }.items():
        store.update(User, user.id, ui_language=language)
        http = as_user(user)
        notes = [unescape(note) for note in re.findall(r'<small class="text-muted">\(?([^<)]+)\)?</small>',
                                                       http.get("/admin/client/").text)]
        assert sorted(notes) == sorted(words + [words[2]])
        assert f"({words[0]})" in unescape(http.get(f"/admin/client/details/?id={today_client.id}").text)


def _overview(html: str) -> str:
    return html.split('id="overview" role="tabpanel"', 1)[1].split('id="contacts" role="tabpanel"', 1)[0]


def test_the_overview_shows_each_field_once_and_an_empty_one_as_a_dash(make, as_user):
    group = make.group("Team")
    acme = make.client(group, name="Acme BV", website=None)
    overview = _overview(as_user(make.user(Role.ADMIN)).get(f"/admin/client/details/?id={acme.id}").text)
    labels = re.findall(r"<(?:dt|b)[^>]*>([^<]+)</(?:dt|b)>", overview)
    assert [label for label in labels if labels.count(label) > 1] == []
    assert {"Group", "Firm contact", "Client-facing contact", "Template", "Website"} <= set(labels)
    values = [unescape(value).strip() for value in re.findall(r"<(?:dd|td)[^>]*>(.*?)</(?:dd|td)>", overview, re.S)]
    assert "" not in values
    contact = re.search(r"Client-facing contact</dt><dd[^>]*>(.*?)</dd>", overview, re.S).group(1)
    assert contact.strip().startswith("—")
    website = re.search(r"<b>Website</b>\s*</td>\s*<td>(.*?)</td>", overview, re.S).group(1)
    assert website.strip() == "—"


def test_staff_and_supervisors_never_see_whether_a_client_is_hidden(make, as_user):
    group = make.group("Team")
    acme = make.client(group)
    for role, shown in ((Role.STAFF, False), (Role.SUPERVISOR, False), (Role.ADMIN, True)):
        page = as_user(make.user(role, groups=[group])).get(f"/admin/client/details/?id={acme.id}").text
        assert ("Hidden from staff" in page) is shown, role


def test_without_an_access_point_staff_read_plain_words_and_admins_the_setting(make, as_user):
    group = make.group("Team")
    acme = make.client(group, e_invoicing_mandate=True)
    staff, supervisor, admin = (make.user(role, groups=[group]) for role in (Role.STAFF, Role.SUPERVISOR, Role.ADMIN))
    staff_page = as_user(staff).get(f"/admin/client/details/?id={acme.id}").text
    assert "Peppol is not connected" in staff_page and "Ask your administrator." in staff_page
    assert "PEPPOL_AP_URL" not in staff_page
    refused = post(as_user(staff), "/admin/client/peppol/", {"id": acme.id, "switch": "send", "on": "1"}, follow_redirects=True)
    assert [m for m in flashes(refused.text) if "not connected" in m and "PEPPOL_AP_URL" not in m]
    bulk = post(as_user(supervisor), "/admin/client/action/", {"action": "peppol_on", "rowid": [str(acme.id)]},
                follow_redirects=True)
    assert [m for m in flashes(bulk.text) if "not connected" in m and "PEPPOL_AP_URL" not in m]
    admin_page = as_user(admin).get(f"/admin/client/details/?id={acme.id}").text
    assert "PEPPOL_AP_URL" in admin_page and "Ask your administrator." not in admin_page


def _history(html: str) -> list[str]:
    """The rows of the activity tab's history table, as text."""
    tab = html.split('id="activity" role="tabpanel"', 1)[1]
    table = tab.split('<table class="table table-sm" id="client-history">', 1)[1].split("</table>", 1)[0] \
        if 'id="client-history"' in tab else ""
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    return [" ".join(re.sub(r"<[^>]+>", "", unescape(row.replace("</td>", " "))).split()) for row in rows]


def test_supervisors_see_the_status_history_of_a_client_in_brussels_time_and_their_language(make, as_user, store):
    group = make.group("Team")
    acme = make.client(group, status="active")
    other = make.client(group, status="active")
    supervisor, staff = make.user(Role.SUPERVISOR), make.user(Role.STAFF, groups=[group])
    http = as_user(supervisor)
    for client in (acme, other):
        post(http, "/admin/client/lifecycle/", {"id": client.id, "action": "deactivate"})
    post(http, "/admin/client/note/", {"id": acme.id, "text": "Stopped working with us."})
    event = store.one(AuditEvent, client_id=acme.id, action="deactivate")
    store.update(AuditEvent, event.id, at=datetime(2026, 1, 15, 13, 5))  # UTC: 14:05 in Brussels

    history = _history(http.get(f"/admin/client/details/?id={acme.id}").text)
    assert history[0] == f"15 Jan 2026, 14:05 {supervisor.email} Deactivation · Client {acme.name} Status: Active → Deactivated"
    assert [row.split(" system ", 1)[1] for row in history[1:]] == [f"Creation · Client {acme.name} Status: Active"]
    store.update(User, supervisor.id, ui_language="fr")
    page = as_user(supervisor).get(f"/admin/client/details/?id={acme.id}").text
    assert _history(page)[0] == f"15 janv. 2026, 14:05 {supervisor.email} Désactivation · Client {acme.name} Statut: Actif → Désactivé"
    assert "Stopped working with us." in page
    assert _history(as_user(staff).get(f"/admin/client/details/?id={acme.id}").text) == []


def test_the_client_page_reads_what_a_client_points_to_with_the_client(app, make, as_user):
    """Its group, firm contact, template, plan and accounting software come with the client's own statement: a
    client that has them all takes as many statements as one that has none (issue 21: 22-24 before, 17 then; 22 with
    the parent, subsidiaries, users to notify, register changes and the bell since; 20 with the open and decided
    proposals and register changes in one statement each; 19 with the users to notify in the client's statement;
    18 without reading refused senders while there are none)."""
    from clientdesk.demo import load_demo
    from tests.test_client_list import StatementCount

    with app.app_context():
        load_demo(clients=20)
        full = db.session.scalars(sa.select(Client).where(
            Client.template_id.is_not(None), Client.plan_id.is_not(None), Client.firm_contact_id.is_not(None),
            Client.integration.has())).first()
        group = full.group
    bare = make.client(group, name="Bare BV")
    http = as_user(make.user(Role.ADMIN))
    counts = {}
    for client_id in (full.id, bare.id):
        http.get(f"/admin/client/details/?id={client_id}")
        with StatementCount(app) as statements:
            assert http.get(f"/admin/client/details/?id={client_id}").status_code == 200
        counts[client_id] = statements.count
    assert counts[full.id] == counts[bare.id] <= 18


def test_the_client_page_reads_open_and_latest_decided_proposals_and_register_changes_in_one_statement_each(app, make):
    """Open ones oldest first, then the ten latest decided newest first; another client's never."""
    from clientdesk import proposals, register_changes
    from clientdesk.models import ChangeProposal, RegisterChange
    from tests.test_client_list import StatementCount

    group = make.group("Team")
    client, other = make.client(group, name="Acme BV"), make.client(group, name="Other BV")
    start = datetime(2026, 1, 1)
    with app.app_context():
        for day in range(14):
            state, at = ("open", None) if day in (3, 9) else (("accepted", "refused")[day % 2], start + timedelta(days=day))
            db.session.add(ChangeProposal(client_id=client.id, subject="company", changes_json='{"name": ["A", "B"]}',
                                          state=state, decided_at=at, created_at=start - timedelta(days=day)))
            db.session.add(RegisterChange(client_id=client.id, field="name", old_json='"A"', new_json='"B"',
                                          state="open" if day in (3, 9) else "applied", acknowledged_at=at,
                                          detected_at=start - timedelta(days=day)))
        db.session.add(ChangeProposal(client_id=other.id, subject="company", changes_json='{"name": ["A", "B"]}'))
        db.session.add(RegisterChange(client_id=other.id, field="name", old_json='"A"', new_json='"B"'))
        db.session.commit()
        acme = db.session.get(Client, client.id)
        with StatementCount(app) as statements:
            open_proposals, decided = proposals.open_and_decided(acme)
            open_changes, reviewed = register_changes.open_and_reviewed(acme)
        assert statements.count == 2
        for open_ones, done, when_opened, when_done in ((open_proposals, decided, "created_at", "decided_at"),
                                                        (open_changes, reviewed, "detected_at", "acknowledged_at")):
            assert [getattr(row, when_opened) for row in open_ones] == [start - timedelta(days=9), start - timedelta(days=3)]
            assert [getattr(row, when_done) for row in done] == [
                start + timedelta(days=day) for day in (13, 12, 11, 10, 8, 7, 6, 5, 4, 2)]
            assert {row.client_id for row in open_ones + done} == {client.id}
