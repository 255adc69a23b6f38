"""Peppol switches: the one place that decides whether a client's "send" and "receive" may change, and
that brings the access point in line with them.

`peppol_send` / `peppol_receive` are what the firm wants; `peppol_state` is where the registration
stands: off → pending (a job is on its way) → registered, or taken (another provider holds the
participant for receiving: nothing of ours registered for receiving, orange warning), or failed
(an outside party refused: the reply is in `peppol_message`, and "Try again" runs it again).
A passing failure (unreachable, timed out, 5xx) leaves it pending with the reply and a `peppol_retry_at`:
the reconciler runs it again then (jobs/peppol.py retry_due), until the retry window is over (retries.py).

The request changes the switches (state pending) in its transaction; the job (jobs/peppol.py) then
calls `PeppolRegistration.sync`, which reads the switches as they are when it runs, so reruns and
successive toggles converge on the last choice.
"""
from dataclasses import dataclass

from flask_babel import gettext as _

from . import notifications, rules
from .errors import Refused
from .extensions import db
from .models import Client, NotificationKind, PeppolState, utcnow
from .models.audit import audit_action, current_actor
from .retries import after_failure
from .services.http import HttpError
from .services.outbound import ForbiddenDestination, Outbound
from .services.peppol import AccessPoint, ParticipantTaken, PeppolError, PeppolUnavailable, Provider, Sml, Smp, participant_ids

SWITCHES = ("send", "receive")
# A registration asked for anew (switches changed, tried again by a person, or done) has no retry scheduled.
NO_RETRY = {"peppol_retry_at": None, "peppol_first_failed_at": None, "peppol_failed_attempts": 0}


class PeppolRefused(Refused):
    """A switch change the client's data or the installation does not allow; str() says why."""


class PeppolNotConnected(PeppolRefused):
    """No access point is configured: nothing can be registered or unregistered."""

    setting = "PEPPOL_AP_URL"

    def __init__(self):
        super().__init__(_("Peppol is not connected: no access point is configured, so nothing can be registered or "
                           "unregistered."))


def access_point_configured(config) -> bool:
    return bool(config.get("PEPPOL_AP_URL"))


def require_access_point(config) -> None:
    if not access_point_configured(config):
        raise PeppolNotConnected()


class PeppolSwitches:
    @staticmethod
    def changes(config, **switches: bool) -> dict:
        """The client's column values once the given switches (send=..., receive=...) are set: the state pending
        until the registration job ends. Raises PeppolRefused when the installation cannot register at all; what
        the client's own data allows is the rules' to say (rules.py)."""
        if not switches or any(switch not in SWITCHES for switch in switches):
            raise PeppolRefused(_("Unknown Peppol switch."))
        require_access_point(config)
        values = {f"peppol_{switch}": on for switch, on in switches.items()}
        return {**values, "peppol_state": PeppolState.PENDING.value, "peppol_message": None, **NO_RETRY}

    @classmethod
    def set(cls, client: Client, config, **switches: bool) -> None:
        """Change the given switches on `client` (state pending): the caller commits, then launches the job. Raises
        PeppolRefused, or rules.RuleViolation for what the switches would break (switching off never does)."""
        values = cls.changes(config, **switches)
        rules.check(client, known=rules.problems(client), **values)
        with audit_action("peppol_on" if any(switches.values()) else "peppol_off"):
            for column, value in values.items():
                setattr(client, column, value)
            db.session.flush()

    @classmethod
    def retry(cls, client: Client, config) -> None:
        """Run the registration again now as the switches stand (after a failure, or instead of waiting for a retry)."""
        require_access_point(config)
        with audit_action("peppol_retry"):
            client.peppol_state, client.peppol_message = PeppolState.PENDING.value, None
            for column, value in NO_RETRY.items():
                setattr(client, column, value)
            db.session.flush()


def switch_as_template(template, client: Client, config) -> bool:
    """Turn on the Peppol switches `template` turns on, as a person pressing them would: True when it did (the
    caller launches the registration once the client is committed: launch_registration)."""
    switches = template.peppol_switches if template is not None else {}
    if switches:
        PeppolSwitches.set(client, config, **switches)
    return bool(switches)


def launch_registration(description: str, client_ids: list[int], user, client: Client | None = None):
    """The task that brings the access point in line with these clients' switches (commits the session first).
    An unreachable access point does not fail it: the clients show when they are tried again."""
    from . import tasks
    from .jobs.peppol import run_peppol

    return tasks.launch("peppol_sync", description, run_peppol, "sync", client_ids, user=user, client=client,
                        total=len(client_ids))


@dataclass
class Outcome:
    state: PeppolState
    message: str | None = None
    provider: Provider | None = None


class PeppolRegistration:
    """Brings the access point in line with a client's switches."""

    def __init__(self, sml: Sml, smp: Smp, access_point: AccessPoint):
        self.sml, self.smp, self.access_point = sml, smp, access_point

    @classmethod
    def from_config(cls, config) -> "PeppolRegistration":
        access_point = AccessPoint.from_config(config)
        if access_point is None:
            raise PeppolError(_("No Peppol access point is configured."))
        return cls(Sml(config["PEPPOL_SML_ZONE"], config.get("DNS_SERVER")),
                   Smp(Outbound.from_config(config)), access_point)

    def other_provider(self, enterprise_number: str) -> tuple[str, Provider] | None:
        """The first of the client's identifiers that the SML points at a provider other than ours."""
        for participant in participant_ids(enterprise_number):
            smp_url = self.sml.smp_url(participant)
            if smp_url is None or self.access_point.holds(participant):
                continue
            try:
                return participant, self.smp.provider(smp_url, participant)
            except (HttpError, PeppolError, ForbiddenDestination):
                return participant, Provider(smp_url)  # the SML alone settles it; the name is a courtesy
        return None

    def sync(self, client: Client) -> Outcome:
        """Register or unregister `client` as its switches say. Raises PeppolError when a party refuses, and
        PeppolUnavailable when one cannot be reached or fails for a passing reason."""
        send, receive = client.peppol_send, client.peppol_receive
        participant = participant_ids(client.enterprise_number)[0] if client.enterprise_number else None
        if not (send or receive):
            if participant:
                self.access_point.unregister(participant)
            return Outcome(PeppolState.OFF)
        taken = self.other_provider(client.enterprise_number) if receive else None
        if taken is not None:
            holder, provider = taken
            self._register(participant, client, send, receive=False)
            return Outcome(PeppolState.TAKEN, _("%(participant)s is registered for receiving with another provider (SMP %(host)s).",
                                                participant=holder, host=provider.smp_host), provider)
        try:
            self._register(participant, client, send, receive)
        except ParticipantTaken as refusal:
            self._register(participant, client, send, receive=False)
            return Outcome(PeppolState.TAKEN, str(refusal)[:500])
        return Outcome(PeppolState.REGISTERED)

    def _register(self, participant: str, client: Client, send: bool, receive: bool) -> None:
        if send or receive:
            self.access_point.register(participant, client.name, client.country, send=send, receive=receive)
        else:
            self.access_point.unregister(participant)

    @staticmethod
    def record(client: Client, outcome: Outcome) -> None:
        """Write the outcome on the client (audited as one "peppol_sync"). The "registered with another
        provider" warning stays until a check finds the participant free (receive registered here)."""
        with audit_action("peppol_sync"):
            if outcome.state == PeppolState.TAKEN:
                provider = outcome.provider
                client.peppol_receive = False  # nothing of ours receives for it
                client.peppol_taken_at = utcnow()
                client.peppol_other_smp = provider.smp_url if provider else None
                client.peppol_other_provider = (", ".join(p for p in (provider.name, provider.contact) if p) or None
                                                if provider else None)
                client.peppol_state, client.peppol_message = outcome.state.value, outcome.message
            elif client.peppol_taken_at is not None and not client.peppol_receive:
                client.peppol_state = PeppolState.TAKEN.value
            else:
                client.peppol_taken_at = client.peppol_other_smp = client.peppol_other_provider = None
                client.peppol_state, client.peppol_message = outcome.state.value, outcome.message
            for column, value in NO_RETRY.items():
                setattr(client, column, value)
            db.session.flush()

    @staticmethod
    def record_failure(client: Client, error: PeppolError) -> None:
        """Write a failed attempt on the client: still pending with the reply and the time of the next attempt
        when the failure is a passing one and the retry window lasts, otherwise failed with the reply."""
        retry = after_failure(client.peppol_first_failed_at, client.peppol_failed_attempts,
                              isinstance(error, PeppolUnavailable))
        with audit_action("peppol_sync"):
            client.peppol_message = str(error)[:500]
            if retry.retry_at is None:
                client.peppol_state = PeppolState.FAILED.value
                for column, value in NO_RETRY.items():
                    setattr(client, column, value)
                notifications.notify_client_event(NotificationKind.PEPPOL_FAILED, client, starter=current_actor(),
                                                  reason=client.peppol_message)
            else:
                client.peppol_state = PeppolState.PENDING.value
                client.peppol_retry_at, client.peppol_first_failed_at = retry.retry_at, retry.first_failed_at
                client.peppol_failed_attempts = retry.failed_attempts
            db.session.flush()
