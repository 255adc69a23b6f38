"""The client's plan: during the trial (or after it, until one is chosen) the client chooses among the plans
offered (plans.py), audited under the client user's name."""
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import plans
from . import bp, own_company
from .onboarding import PlanForm, apply_change


@bp.route("/plan", methods=["POST"])
@login_required
def choose_plan():
    client, form = own_company(), PlanForm()
    by = f"{current_user.full_name} <{current_user.email}>"
    return apply_change(client, "plan_form", form, lambda: plans.choose(client, form.plan.data, by),
                        _("Thank you: your choice of plan is recorded."))
