"""The Group screen: its members pick-list offers active staff users; a deactivated member is shown as such."""
import re

from clientdesk.models import Group, Role, User
from tests.helpers import post


def members_field(html: str) -> str:
    return re.search(r'<select[^>]*id="members".*?</select>', html, re.S).group(0)


def members(store, group) -> set[int]:
    return store.run(lambda s: {user.id for user in s.get(Group, group.id).members})


def test_group_members_are_chosen_among_active_users(make, store, as_user):
    team = make.group("Team Brugge")
    active, gone, other_gone = make.user(Role.STAFF, groups=[team]), make.user(Role.STAFF, groups=[team]), make.user(Role.STAFF)
    newcomer = make.user(Role.STAFF)
    for user in (gone, other_gone):
        store.update(User, user.id, active=False)
    http = as_user(make.user(Role.ADMIN))

    new = members_field(http.get("/admin/group/new/").text)
    assert f'value="{active.id}"' in new and f'value="{newcomer.id}"' in new
    assert f'value="{gone.id}"' not in new and f'value="{other_gone.id}"' not in new

    edit = members_field(http.get(f"/admin/group/edit/?id={team.id}").text)
    assert f"{gone} (deactivated)" in edit and f'value="{other_gone.id}"' not in edit
    assert f"{gone} (deactivated)" in http.get("/admin/group/").text

    refused = post(http, f"/admin/group/edit/?id={team.id}", {"name": "Team Brugge",
                                                             "members": [str(active.id), str(other_gone.id)]})
    assert refused.status_code == 200 and "Choose one of the users offered." in refused.text
    assert members(store, team) == {active.id, gone.id}

    kept = post(http, f"/admin/group/edit/?id={team.id}", {"name": "Team Brugge",
                                                          "members": [str(active.id), str(gone.id), str(newcomer.id)]})
    assert kept.status_code == 302
    assert members(store, team) == {active.id, gone.id, newcomer.id}
    removed = post(http, f"/admin/group/edit/?id={team.id}", {"name": "Team Brugge", "members": [str(active.id)]})
    assert removed.status_code == 302 and members(store, team) == {active.id}
