"""The dashboard: every number links to the client list filtered to exactly those rows, within the user's scope."""
import html
import re
from datetime import timedelta

import pytest

from clientdesk.models import ChangeProposal, Document, Invitation, RegisterChange, Role, Task, today, utcnow

LIST_COUNT = re.compile(r"List \((\d+)\)")


@pytest.fixture
def portfolio(make, store):
    north, south = make.group("North"), make.group("South")
    now = utcnow()
    make.client(north, status="invited", invitation_expires_at=now + timedelta(days=1))  # expiring
    make.client(north, status="invited", invitation_expires_at=now - timedelta(days=2))  # expired
    make.client(north, status="invited", invitation_expires_at=now + timedelta(days=15))
    make.client(north, status="active", trial_end=today() + timedelta(days=3))
    make.client(south, status="active", trial_end=today() + timedelta(days=40), peppol_state="failed")
    make.client(south, status="created", peppol_state="pending")
    stopped = make.client(south, status="deactivated")
    hidden = make.client(south, status="invited", hidden=True, invitation_expires_at=now - timedelta(days=1))
    make.client(south, status="active", trial_end=today() - timedelta(days=3))  # trial ended without a plan
    stuck = make.client(north, status="active", trial_end=today() + timedelta(days=20))  # onboarding not done
    store.run(lambda s: s.add(Invitation(client_id=stuck.id, contact_id=stuck.contacts[0].id, token_hash="stuck",
                                         status="accepted", expires_at=now, accepted_at=now - timedelta(days=20))))
    inbox = make.client(north, status="active")
    store.run(lambda s: s.add_all([Document(client_id=inbox.id, filename=f"f{i}.pdf", storage_path="x", status="inbox") for i in range(3)]))
    store.run(lambda s: s.add(Task(id="t-failed", kind="client_invite", status="failed", client_id=inbox.id)))
    store.run(lambda s: s.add(ChangeProposal(client_id=inbox.id, subject="company", changes_json='{"city": [null, "Gent"]}')))
    store.run(lambda s: s.add_all([  # one to review (of a deactivated client), one reviewed, one of a hidden client
        RegisterChange(client_id=stopped.id, field="status", old_json='"active"', new_json='"stopped"'),
        RegisterChange(client_id=inbox.id, field="name", old_json='"A"', new_json='"B"', state="dismissed"),
        RegisterChange(client_id=hidden.id, field="name", old_json='"A"', new_json='"B"')]))
    return {"north": north, "south": south}


def dashboard_links(page: str):
    for href, number in re.findall(r'<a[^>]+href="([^"]+)"[^>]*>(\d+)</a>', page):
        yield html.unescape(href), int(number)


def test_every_number_links_to_exactly_those_rows(portfolio, make, as_user):
    http = as_user(make.user(Role.SUPERVISOR))
    page = http.get("/admin/").text
    links = list(dashboard_links(page))
    client_links = [(href, n) for href, n in links if href.startswith("/admin/client/")]
    assert len(client_links) >= 18
    assert any("flt0_trial_is=ended_without_plan" in href for href, _n in client_links)
    assert any("flt0_onboarding_is=stuck" in href for href, _n in client_links)
    for href, number in client_links:
        listed = LIST_COUNT.search(http.get(href).text)
        assert listed and int(listed.group(1)) == number, href


def test_blocks_count_what_they_say(portfolio, make, as_user):
    page = as_user(make.user(Role.SUPERVISOR)).get("/admin/").text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "1 expire within 3 days" in text
    assert "1 expired: resend them" in text  # the hidden client's expired link is not a supervisor's
    assert "1 end in the next 7 days" in text
    assert "1 ended without a plan" in text and "1 not finished 14 days after accepting the invitation" in text
    assert "1 pending" in text and "1 failed" in text
    assert "3 documents waiting in inboxes" in text and "1 clients with documents waiting" in text
    assert "1 failed tasks" in text
    assert "1 clients with corrections to accept or refuse" in text
    assert "1 clients whose name, seat address or status changed in the company register" in text


def test_staff_see_their_groups_only(portfolio, make, as_user):
    staff = make.user(Role.STAFF, groups=[portfolio["south"]])
    page = as_user(staff).get("/admin/").text
    assert "North" not in page
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "0 expired: resend them" in text and "0 documents waiting" in text
    assert "0 failed tasks" in text  # not theirs


def test_dashboard_statement_count_does_not_grow_with_clients(make, as_user, app):
    import sqlalchemy as sa

    from clientdesk.extensions import db

    http = as_user(make.user(Role.ADMIN))
    counts, statements = [], []
    with app.app_context():
        engine = db.engine

    def listener(*args):
        statements.append(1)

    for _ in range(2):
        for _ in range(5):
            make.client(make.group(), status="invited", invitation_expires_at=utcnow())
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            assert http.get("/admin/").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_the_chart_writes_its_counts_beside_the_bars_not_inside_thin_segments(make, as_user):
    team = make.group("Team")
    make.client(team, status="created")
    for _n in range(40):
        make.client(team, status="active")
    page = as_user(make.user(Role.SUPERVISOR)).get("/admin/").text
    chart = page.split('aria-label="Chart of clients by status and group"', 1)[1]
    segments = re.findall(r'<a class="progress-bar[^"]*"[^>]*>(.*?)</a>', chart, re.S)
    assert len(segments) == 2 and all(text.strip() == "" for text in segments)  # a 1-in-41 segment holds no label
    assert all('aria-label="' in segment for segment in re.findall(r'<a class="progress-bar[^>]*>', chart))
    legend = " ".join(re.sub(r"<[^>]+>", " ", chart.split('class="chart-legend small mb-2">', 1)[1].split("</ul>", 1)[0]).split())
    assert legend == "Created 1 Active 40"
