"""Reorganising clients from the list (group, firm contact, client-facing contact, template), each through a
preview whose numbers are what the task then does; and the hand-over of a deactivated user's clients."""
import html as html_lib
import re

import pytest
import sqlalchemy as sa

from clientdesk.models import AuditEvent, Client, ClientIntegration, ConfigTemplate, IntegrationProduct, Role, Task, User
from tests.helpers import PASSWORD, csrf_token, flashes, post
from tests.import_files import run_jobs


def _confirm_form(page: str) -> dict:
    """The Confirm form's fields of a preview page."""
    form = re.search(r'<form method="post" action="[^"]*/reorganise/run/".*?</form>', page, re.S).group(0)
    return {name: html_lib.unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form)}


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", page)))


def _choose(http, change: str, ids) -> str:
    """The list's action on the selected rows: the page that asks for the target."""
    response = post(http, "/admin/client/action/", {"action": change, "rowid": [str(pk) for pk in ids]})
    assert response.status_code == 200, flashes(http.get(response.location).text)
    return response.text


def _preview(http, change: str, target: int, ids) -> str:
    response = post(http, "/admin/client/reorganise/", {"change": change, "target": str(target),
                                                        "ids": ",".join(map(str, ids))})
    assert response.status_code == 200, response.status_code
    return response.text


def _confirm(http, app, page: str, run: bool = True):
    response = post(http, "/admin/client/reorganise/run/", _confirm_form(page))
    assert response.status_code == 302 and "/admin/task/details/" in response.location
    if run:
        run_jobs(app)
    return response


def _task(store) -> Task:
    return store.one(Task, kind="reorganise")


@pytest.fixture
def teams(make):
    return make.group("Team North"), make.group("Team South")


def test_supervisor_moves_clients_to_another_group_as_the_preview_says(app, make, store, as_user, teams):
    north, south = teams
    supervisor = make.user(Role.SUPERVISOR)
    moving = [make.client(group=north).id for _ in range(3)]
    already = make.client(group=south).id
    hidden = make.client(group=north, hidden=True).id
    http = as_user(supervisor)

    chooser = _choose(http, "group", [*moving, already, hidden, 999999])
    assert "Team South" in chooser and "Confirm" not in chooser
    page = _preview(http, "group", south.id, [*moving, already, hidden, 999999])
    text = _text(page)
    assert "3 clients change" in text and "1 client unchanged" in text and "already in that group: 1" in text
    assert "2 clients skipped" in text and "not a client you can act on (hidden, outside your groups, or deleted): 2" in text
    assert store.get(Client, hidden).name not in text  # nothing said of a hidden client but that it is skipped
    assert _confirm_form(page)["expected"] == ",".join(map(str, moving))
    assert store.count(AuditEvent, action="change_group") == 0  # the preview wrote nothing

    _confirm(http, app, page)
    task = _task(store)
    assert task.status == "finished" and task.progress_done == task.progress_total == 6
    assert (task.result["done"], task.result["unchanged"], len(task.result["skipped"])) == (3, 1, 2)
    assert task.result["since_preview"] == []
    for client_id in moving:
        assert store.get(Client, client_id).group_id == south.id
        event = store.one(AuditEvent, client_id=client_id, action="change_group")
        assert event.actor == supervisor.email and event.changes["group_id"] == [north.id, south.id]
    assert store.get(Client, hidden).group_id == north.id
    assert store.count(AuditEvent, action="change_group") == 3
    details = _text(http.get(f"/admin/task/details/?id={task.id}").text)
    assert "Done: 3" in details and "Already as asked: 1" in details and "a client outside your scope" in details


def test_a_row_changed_since_the_preview_is_decided_again_and_reported(app, make, store, as_user, teams):
    north, south = teams
    supervisor = make.user(Role.SUPERVISOR)
    first, second = make.client(group=north).id, make.client(group=north).id
    http = as_user(supervisor)
    page = _preview(http, "group", south.id, [first, second])
    store.update(Client, second, group_id=south.id)  # someone else moved it meanwhile
    _confirm(http, app, page)
    result = _task(store).result
    assert result["done"] == 1 and result["unchanged"] == 1
    assert [row["client_id"] for row in result["since_preview"]] == [second]
    assert "changed since the preview" in _task(store).error


def test_staff_cannot_reorganise(app, make, store, as_user, teams):
    north, south = teams
    staff = make.user(Role.STAFF, groups=[north, south])
    client_id = make.client(group=north).id
    http = as_user(staff)
    listing = http.get("/admin/client/").text
    assert 'data-list-action="group"' not in listing and 'data-list-action="template"' not in listing
    forged = post(http, "/admin/client/action/", {"action": "group", "rowid": [str(client_id)]})
    assert forged.status_code == 302
    data = {"change": "group", "target": str(south.id), "ids": str(client_id), "expected": str(client_id)}
    assert post(http, "/admin/client/reorganise/", data).status_code == 403
    assert post(http, "/admin/client/reorganise/run/", data).status_code == 403
    assert store.get(Client, client_id).group_id == north.id and store.count(Task) == 0


def test_the_client_facing_contact_is_for_admins(app, make, store, as_user, teams):
    north, _south = teams
    supervisor, admin = make.user(Role.SUPERVISOR), make.user(Role.ADMIN)
    contact = make.user(Role.STAFF)
    clients = [make.client(group=north).id for _ in range(2)]
    http = as_user(supervisor)
    assert 'data-list-action="client_facing_contact"' not in http.get("/admin/client/").text
    assert post(http, "/admin/client/reorganise/", {"change": "client_facing_contact", "target": str(contact.id),
                                                    "ids": str(clients[0])}).status_code == 403
    http = as_user(admin)
    assert 'data-list-action="client_facing_contact"' in http.get("/admin/client/").text
    page = _preview(http, "client_facing_contact", contact.id, clients)
    assert "2 clients change" in _text(page)
    _confirm(http, app, page)
    assert [store.get(Client, pk).client_facing_contact_id for pk in clients] == [contact.id, contact.id]
    assert store.count(AuditEvent, action="change_client_facing_contact") == 2


def test_firm_contact_only_an_active_user(app, make, store, as_user, teams):
    north, _south = teams
    supervisor = make.user(Role.SUPERVISOR)
    active, gone = make.user(Role.STAFF), make.user(Role.STAFF)
    store.update(User, gone.id, active=False)
    clients = [make.client(group=north).id for _ in range(2)]
    http = as_user(supervisor)
    chooser = _choose(http, "firm_contact", clients)
    assert str(active) in chooser and str(gone) not in chooser
    refused = post(http, "/admin/client/reorganise/", {"change": "firm_contact", "target": str(gone.id),
                                                       "ids": ",".join(map(str, clients))})
    assert "no longer available" in " ".join(flashes(refused.text)) and "Confirm" not in refused.text
    page = _preview(http, "firm_contact", active.id, clients)
    _confirm(http, app, page)
    assert {store.get(Client, pk).firm_contact_id for pk in clients} == {active.id}
    assert _task(store).result["done"] == 2


def test_a_template_onto_existing_clients_through_the_rules_and_the_peppol_switches(app, make, store, as_user, teams,
                                                                                     monkeypatch):
    north, _south = teams
    monkeypatch.setitem(app.config, "PEPPOL_AP_URL", "http://127.0.0.1:9")  # the registration task is only queued
    admin = make.user(Role.ADMIN)
    product = store.run(lambda s: s.scalars(sa.select(IntegrationProduct.id).order_by(IntegrationProduct.name)).first())
    template = store.run(lambda s: _add(s, ConfigTemplate(
        name="Peppol receivers", integration_product_id=product, delivery_method="email",
        delivery_email="docs@firm.example.com", e_invoicing_mandate=True, peppol_receive=True)))
    with_mandate = [make.client(group=north, e_invoicing_mandate=True).id for _ in range(2)]
    without = [make.client(group=north).id for _ in range(3)]
    http = as_user(admin)
    page = _preview(http, "template", template, [*with_mandate, *without])
    text = _text(page)
    assert "2 clients change" in text and "3 clients skipped" in text and "e-invoicing mandate" in text
    _confirm(http, app, page)
    result = _task(store).result
    assert result["done"] == 2 and len(result["skipped"]) == 3 and result["since_preview"] == []
    for client_id in with_mandate:
        client = store.get(Client, client_id)
        assert (client.template_id, client.peppol_receive, client.peppol_state) == (template, True, "pending")
        applied = store.one(AuditEvent, client_id=client_id, action="apply_template", object_type="client")
        assert applied.changes["template_id"] == [None, template]
        assert store.one(AuditEvent, client_id=client_id, action="peppol_on").changes["peppol_receive"] == [False, True]
    for client_id in without:
        client = store.get(Client, client_id)
        assert client.template_id is None and not client.peppol_receive and not client.e_invoicing_mandate
    assert store.count(Task, kind="peppol_sync") == 1

    # Applied again: every client is as the template says, or still refused.
    page = _preview(http, "template", template, [*with_mandate, *without])
    assert "0 clients change" in _text(page) and "already set as the template says: 2" in _text(page)


def test_without_an_access_point_a_template_turning_peppol_on_is_skipped_with_the_reason(make, as_user, teams, store):
    north, _south = teams
    admin = make.user(Role.ADMIN)
    template = store.run(lambda s: _add(s, ConfigTemplate(name="Senders", peppol_send=True)))
    client_id = make.client(group=north).id
    text = _text(_preview(as_user(admin), "template", template, [client_id]))
    assert "0 clients change" in text and "Peppol is not connected" in text


def _add(session, obj):
    session.add(obj)
    session.commit()
    return obj.id


def test_deactivating_a_user_hands_their_clients_over_in_one_task(app, make, store, as_user, teams):
    north, _south = teams
    admin = make.user(Role.ADMIN)
    leaving, successor, facing = make.user(Role.STAFF), make.user(Role.STAFF), make.user(Role.STAFF)
    gone = make.user(Role.STAFF)
    store.update(User, gone.id, active=False)
    firm = [make.client(group=north, firm_contact_id=leaving.id).id for _ in range(2)]
    both = make.client(group=north, firm_contact_id=leaving.id, client_facing_contact_id=leaving.id, hidden=True).id
    other = make.client(group=north, firm_contact_id=successor.id).id
    http = as_user(admin)

    # The user form does not deactivate someone who still looks after clients.
    edit = post(http, f"/admin/user/edit/?id={leaving.id}", {"email": leaving.email, "full_name": leaving.full_name,
                                                             "role": "staff", "ui_language": ""}, follow_redirects=True)
    assert any("Deactivate and hand over" in message for message in flashes(edit.text))
    assert store.get(User, leaving.id).active

    page = http.get(f"/admin/user/deactivate/?id={leaving.id}").text
    options = re.findall(r'<option value="(\d+)">', page)
    assert str(successor.id) in options and str(leaving.id) not in options and str(gone.id) not in options
    assert "3 clients" in _text(page) and "1 client" in _text(page)
    missing = post(http, "/admin/user/deactivate/", {"id": str(leaving.id), "firm_contact": str(successor.id)})
    assert missing.status_code == 200 and store.get(User, leaving.id).active

    response = post(http, "/admin/user/deactivate/", {"id": str(leaving.id), "firm_contact": str(successor.id),
                                                      "client_facing_contact": str(facing.id)})
    assert response.status_code == 302 and "/admin/task/details/" in response.location
    assert not store.get(User, leaving.id).active
    run_jobs(app)
    task = store.one(Task, kind="hand_over")
    assert task.status == "finished" and task.result["done"] == 3
    assert [store.get(Client, pk).firm_contact_id for pk in firm] == [successor.id, successor.id]
    assert (store.get(Client, both).firm_contact_id, store.get(Client, both).client_facing_contact_id) == (successor.id, facing.id)
    assert store.get(Client, other).firm_contact_id == successor.id
    assert store.count(AuditEvent, action="hand_over") == 3
    assert store.one(AuditEvent, client_id=both, action="hand_over").changes == {
        "firm_contact_id": [leaving.id, successor.id], "client_facing_contact_id": [leaving.id, facing.id]}

    # Cannot sign in, and no longer offered as anyone's contact.
    signin = app.test_client()
    refused = signin.post("/login", data={"email": leaving.email, "password": PASSWORD, "csrf_token": csrf_token(signin)})
    assert refused.status_code != 302
    edit_page = http.get(f"/admin/client/edit/?id={other}").text
    assert f'value="{leaving.id}"' not in re.search(r'id="firm_contact".*?</select>', edit_page, re.S).group(0)
    assert str(leaving) not in _choose(http, "firm_contact", [other])
    assigned = re.search(r'id="assigned_user".*?</select>', http.get("/admin/template/new/").text, re.S).group(0)
    assert f'value="{successor.id}"' in assigned and f'value="{leaving.id}"' not in assigned


def test_only_admins_hand_over(make, as_user):
    supervisor, leaving = make.user(Role.SUPERVISOR), make.user(Role.STAFF)
    http = as_user(supervisor)
    assert http.get(f"/admin/user/deactivate/?id={leaving.id}").status_code == 403
    assert post(http, "/admin/user/deactivate/", {"id": str(leaving.id)}).status_code == 403


def test_a_reassignment_writes_statements_per_chunk_not_per_client(app, make, store, teams):
    """bench/reassign.py measures the rate; this guards its reason: a few statements for all the chunk's clients."""
    from clientdesk.extensions import db
    from clientdesk.jobs.reorganise import run_reorganise

    north, south = teams
    supervisor = make.user(Role.SUPERVISOR)

    def statements_to_move(count: int, target) -> int:
        ids = [make.client(group=north).id for _ in range(count)]
        statements = []
        with app.app_context():
            task = Task(id=f"move-{count}", kind="reorganise", user_id=supervisor.id)
            db.session.add(task)
            db.session.commit()
            listen = lambda connection, cursor, statement, *args: statements.append(statement)  # noqa: E731
            sa.event.listen(db.engine, "before_cursor_execute", listen)
            try:
                assert run_reorganise(task.id, ["group", target.id], ids, ids)["done"] == count
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", listen)
        return len(statements)

    assert statements_to_move(3, south) == statements_to_move(30, south)
    assert store.count(AuditEvent, action="change_group") == 33


def test_a_target_deactivated_before_the_task_runs_changes_nothing(app, make, store, as_user, teams):
    north, _south = teams
    supervisor, contact = make.user(Role.SUPERVISOR), make.user(Role.STAFF)
    client_id = make.client(group=north).id
    http = as_user(supervisor)
    page = _preview(http, "firm_contact", contact.id, [client_id])
    store.update(User, contact.id, active=False)
    refused = post(http, "/admin/client/reorganise/run/", _confirm_form(page))
    assert refused.status_code == 200 and "no longer available" in " ".join(flashes(refused.text))
    assert store.count(Task) == 0

    store.update(User, contact.id, active=True)
    _confirm(http, app, page, run=False)
    store.update(User, contact.id, active=False)  # between the Confirm and the worker
    run_jobs(app)
    task = _task(store)
    assert task.status == "finished" and "Nothing was changed" in task.error
    assert store.get(Client, client_id).firm_contact_id is None


def _matching_button(listing: str) -> tuple[str, dict]:
    """The list's "apply to all matching clients" form: its action (with the list's filters) and fields."""
    form = re.search(r'<form method="post" action="([^"]*)" class="apply-to-matching">.*?</form>', listing, re.S)
    fields = {name: html_lib.unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(0))}
    return html_lib.unescape(form.group(1)), fields


def test_a_template_applied_to_every_client_a_filter_matches_as_the_preview_says(app, make, store, as_user, teams):
    north, south = teams
    supervisor = make.user(Role.SUPERVISOR)
    product = store.run(lambda s: s.scalar(sa.select(IntegrationProduct.id).where(IntegrationProduct.name == "Yuki")))
    template = store.run(lambda s: _add(s, ConfigTemplate(
        name="North defaults", integration_product_id=product, delivery_method="email", delivery_email="docs@firm.example.com")))
    matching = [make.client(group=north).id for _ in range(3)]
    already = make.client(group=north, template_id=template).id
    store.run(lambda s: (s.add(ClientIntegration(client_id=already, product_id=product, delivery_method="email",
                                                 delivery_email="docs@firm.example.com")), s.commit()))
    hidden = make.client(group=north, hidden=True).id
    elsewhere = make.client(group=south).id
    http = as_user(supervisor)

    assert "apply-to-matching" not in http.get("/admin/client/").text  # only once the list is narrowed
    listing = http.get(f"/admin/client/?flt0_group_equals={north.id}&apply_template={template}").text
    assert "Apply “North defaults” to all 4 matching clients" in _text(listing)
    action, fields = _matching_button(listing)
    assert fields["target"] == str(template) and f"flt0_group_equals={north.id}" in action
    page = post(http, action, fields).text
    text = _text(page)
    assert "4 selected clients" in text and "3 clients change" in text and "already set as the template says: 1" in text
    assert store.get(Client, hidden).name not in text and store.get(Client, elsewhere).name not in text
    assert sorted(map(int, _confirm_form(page)["ids"].split(","))) == sorted([*matching, already])

    _confirm(http, app, page)
    result = _task(store).result
    assert (result["done"], result["unchanged"], result["skipped"], result["since_preview"]) == (3, 1, [], [])
    for client_id in matching:
        client = store.get(Client, client_id)
        assert client.template_id == template
        assert store.one(ClientIntegration, client_id=client_id).delivery_email == "docs@firm.example.com"
    assert store.get(Client, hidden).template_id is None and store.get(Client, elsewhere).template_id is None


def test_apply_to_matching_clients_is_scoped_for_supervisors_and_refused_to_staff(app, make, store, as_user, teams):
    north, _south = teams
    template = store.run(lambda s: _add(s, ConfigTemplate(name="Plain")))
    visible = make.client(group=north, name="Visible NV").id
    hidden = make.client(group=north, hidden=True, name="Verborgen NV").id
    action = f"/admin/client/reorganise/filtered/?flt0_group_equals={north.id}"
    data = {"change": "template", "target": str(template)}

    supervisor = as_user(make.user(Role.SUPERVISOR))
    page = post(supervisor, action, data).text
    assert "1 selected client" in _text(page) and _confirm_form(page)["ids"] == str(visible)
    searched = post(supervisor, "/admin/client/reorganise/filtered/?search=Verborgen", data)
    assert searched.status_code == 302 and store.get(Client, hidden).template_id is None  # nothing it can see matches
    assert post(supervisor, action, {**data, "change": "hand_over"}).status_code == 403

    staff = as_user(make.user(Role.STAFF, groups=[north]))
    assert "apply-to-matching" not in staff.get(f"/admin/client/?flt0_group_equals={north.id}").text
    assert post(staff, action, data).status_code == 403
    assert supervisor.post(action, data=data).status_code == 400  # no CSRF token
    assert supervisor.get(action).status_code == 405
    admin = as_user(make.user(Role.ADMIN))
    page = post(admin, action, data).text
    assert sorted(map(int, _confirm_form(page)["ids"].split(","))) == sorted([visible, hidden])  # admins see hidden ones
    assert store.count(Task) == 0


def test_deactivating_a_user_hands_their_templates_to_the_new_firm_contact(app, make, store, as_user, teams):
    north, _south = teams
    admin = make.user(Role.ADMIN)
    leaving, successor, other = make.user(Role.STAFF), make.user(Role.STAFF), make.user(Role.STAFF)
    store.run(lambda s: s.add_all([ConfigTemplate(name="Yuki", subscription_mode="full", assigned_user_id=leaving.id),
                                   ConfigTemplate(name="Octopus", subscription_mode="full", assigned_user_id=leaving.id),
                                   ConfigTemplate(name="Theirs", subscription_mode="full", assigned_user_id=other.id)]))
    http = as_user(admin)

    # The user form does not deactivate someone still assigned to templates.
    edit = post(http, f"/admin/user/edit/?id={leaving.id}", {"email": leaving.email, "full_name": leaving.full_name,
                                                             "role": "staff", "ui_language": ""}, follow_redirects=True)
    assert any("assigned staff of configuration templates" in message for message in flashes(edit.text))
    assert store.get(User, leaving.id).active

    page = http.get(f"/admin/user/deactivate/?id={leaving.id}").text
    assert "0 clients, 2 configuration templates" in _text(page)
    assert re.search(r'name="firm_contact" class="form-control" required', page)
    missing = post(http, "/admin/user/deactivate/", {"id": str(leaving.id)})
    assert missing.status_code == 200 and store.get(User, leaving.id).active
    assert {t.assigned_user_id for t in store.all(ConfigTemplate) if t.name != "Theirs"} == {leaving.id}

    done = post(http, "/admin/user/deactivate/", {"id": str(leaving.id), "firm_contact": str(successor.id)},
                follow_redirects=True)
    assert f"{leaving} is deactivated; their 2 templates go to {successor}." in flashes(done.text)
    assert not store.get(User, leaving.id).active
    assert {t.name: t.assigned_user_id for t in store.all(ConfigTemplate)} == {
        "Yuki": successor.id, "Octopus": successor.id, "Theirs": other.id}
    events = store.all(AuditEvent, action="hand_over", object_type="config_template")
    assert len(events) == 2 and {e.actor_id for e in events} == {admin.id}
    assert all(e.changes == {"assigned_user_id": [leaving.id, successor.id]} for e in events)


def test_a_hand_over_with_clients_moves_the_templates_at_once(app, make, store, as_user, teams):
    north, _south = teams
    leaving, successor = make.user(Role.STAFF), make.user(Role.STAFF)
    client = make.client(group=north, firm_contact_id=leaving.id).id
    store.run(lambda s: s.add(ConfigTemplate(name="Yuki", subscription_mode="full", assigned_user_id=leaving.id)))
    response = post(as_user(make.user(Role.ADMIN)), "/admin/user/deactivate/",
                    {"id": str(leaving.id), "firm_contact": str(successor.id)})
    assert "/admin/task/details/" in response.location
    assert store.one(ConfigTemplate, name="Yuki").assigned_user_id == successor.id
    run_jobs(app)
    assert store.get(Client, client).firm_contact_id == successor.id


def test_the_template_form_offers_active_users_and_keeps_a_deactivated_one_shown_as_such(make, store, as_user):
    active, gone, also_gone = make.user(Role.STAFF), make.user(Role.STAFF), make.user(Role.STAFF)
    for user in (gone, also_gone):
        store.update(User, user.id, active=False)
    store.run(lambda s: s.add(ConfigTemplate(name="Old", subscription_mode="full", assigned_user_id=gone.id)))
    template = store.one(ConfigTemplate, name="Old")
    http = as_user(make.user(Role.ADMIN))

    new = re.search(r'id="assigned_user".*?</select>', http.get("/admin/template/new/").text, re.S).group(0)
    assert f'value="{active.id}"' in new and f'value="{gone.id}"' not in new and f'value="{also_gone.id}"' not in new
    edit = re.search(r'id="assigned_user".*?</select>', http.get(f"/admin/template/edit/?id={template.id}").text,
                     re.S).group(0)
    assert re.search(rf'selected[^>]*value="{gone.id}">{gone} \(deactivated\)|value="{gone.id}"[^>]*selected', edit)
    assert f"{gone} (deactivated)" in edit and f'value="{also_gone.id}"' not in edit
    refused = post(http, f"/admin/template/edit/?id={template.id}",
                   {"name": "Old", "subscription_mode": "full", "assigned_user": str(also_gone.id)})
    assert refused.status_code == 200 and "Choose one of the users offered." in refused.text
    assert store.one(ConfigTemplate, name="Old").assigned_user_id == gone.id


def test_a_hand_over_moves_a_template_s_client_facing_contact_too(make, store, as_user):
    leaving, successor = make.user(Role.STAFF), make.user(Role.STAFF)
    store.run(lambda s: s.add_all([ConfigTemplate(name="Facing", subscription_mode="full", client_facing_contact_id=leaving.id),
                                   ConfigTemplate(name="Also", subscription_mode="full", client_facing_contact_id=leaving.id)]))
    http = as_user(make.user(Role.ADMIN))
    post(http, "/admin/user/deactivate/", {"id": str(leaving.id), "client_facing_contact": str(successor.id)})
    assert not store.get(User, leaving.id).active
    assert {t.client_facing_contact_id for t in store.all(ConfigTemplate)} == {successor.id}
    assert len(store.all(AuditEvent, action="hand_over", object_type="config_template")) == 2
