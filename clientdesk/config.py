"""Configuration from the environment, as the contract in DESIGN.md describes it."""
import ipaddress
import os
import secrets
import sys
from pathlib import Path

from werkzeug.security import generate_password_hash

from .models.base import FIRM_TIMEZONE
from .schedule import SCHEDULES, cron_expression

CHECKOUT_DIR = Path(__file__).resolve().parent.parent
# Where `flask dev` (`make run`) serves by default, and so where the links inside e-mails point by default.
DEV_HOST, DEV_PORT = "127.0.0.1", 5000


class ConfigError(RuntimeError):
    pass


def instance_path() -> Path:
    path = Path(os.environ.get("INSTANCE_PATH") or CHECKOUT_DIR / "instance").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


# Commands that need the real key: `run` serves requests; `worker` e-mails invitation links, which are derived
# from it (models/invitation.py), so every process must derive the same ones.
COMMANDS_WITH_SECRETS = {"run", "worker"}


def _running_cli_command() -> bool:
    """True for a `flask ...` command that can do with a throwaway key."""
    return os.environ.get("FLASK_RUN_FROM_CLI") == "true" and not COMMANDS_WITH_SECRETS.intersection(sys.argv[1:])


def _secret_key(instance: Path, debug: bool, testing: bool) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if debug:
        # A development key kept in the instance folder, so sessions survive a restart.
        key_file = instance / "dev-secret-key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip()
    if testing or _running_cli_command():
        return secrets.token_hex(32)
    raise ConfigError("SECRET_KEY must be set (export SECRET_KEY=...) unless FLASK_DEBUG=1.")


def _whole_number(name: str, default: int, unit: str, minimum: int = 1) -> int:
    value = os.environ.get(name) or str(default)
    if not value.isdigit() or int(value) < minimum:
        raise ConfigError(f"{name} must be a whole number of {unit}, at least {minimum} (it is {value!r}).")
    return int(value)


TWO_FACTOR_POLICIES = ("none", "admin", "all")


def _two_factor_policy() -> str:
    value = (os.environ.get("REQUIRE_2FA") or "none").strip().lower()
    if value not in TWO_FACTOR_POLICIES:
        raise ConfigError(f"REQUIRE_2FA must be one of {', '.join(TWO_FACTOR_POLICIES)} (it is {value!r}).")
    return value


def _password_hash_method() -> str:
    """werkzeug's notation (`scrypt`, `scrypt:32768:8:1`, `pbkdf2:sha256:600000`); a given one is tried once here, so
    that a mistyped one stops the start, not the first sign-in."""
    value = os.environ.get("PASSWORD_HASH_METHOD")
    if not value:
        return "scrypt"
    try:
        generate_password_hash("", method=value)
    except ValueError as error:
        raise ConfigError(f"PASSWORD_HASH_METHOD: {error} (e.g. scrypt, or pbkdf2:sha256:600000).") from None
    return value


def _worker_timings() -> dict:
    """How often a worker beats and reconciles, when a task's worker counts as gone, and a stopping worker's grace."""
    timings = {"WORKER_HEARTBEAT_SECONDS": _whole_number("WORKER_HEARTBEAT_SECONDS", 5, "seconds"),
               "WORKER_STALL_SECONDS": _whole_number("WORKER_STALL_SECONDS", 30, "seconds"),
               "WORKER_RECONCILE_SECONDS": _whole_number("WORKER_RECONCILE_SECONDS", 10, "seconds"),
               "WORKER_STOP_GRACE_SECONDS": _whole_number("WORKER_STOP_GRACE_SECONDS", 8, "seconds")}
    # A beat or two late (a busy machine) must not make a worker that is alive look gone.
    if timings["WORKER_STALL_SECONDS"] < 3 * timings["WORKER_HEARTBEAT_SECONDS"]:
        raise ConfigError(f"WORKER_STALL_SECONDS must be at least 3 times WORKER_HEARTBEAT_SECONDS "
                          f"({timings['WORKER_STALL_SECONDS']} < 3 x {timings['WORKER_HEARTBEAT_SECONDS']}).")
    return timings


def _days_list(name: str, default: str) -> tuple[int, ...]:
    """"7,2" → (2, 7): whole numbers of days, at least one, each at least 1."""
    value = os.environ.get(name) or default
    days = [part.strip() for part in value.split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in days):
        raise ConfigError(f"{name} must be whole numbers of days, at least 1, separated by commas (it is {value!r}).")
    return tuple(sorted({int(part) for part in days}))


def _schedules() -> dict:
    """Each schedule's setting (schedule.SCHEDULES): its cron expression, or "off"."""
    settings = {}
    for schedule in SCHEDULES:
        try:
            settings[schedule.setting] = cron_expression(schedule.setting, os.environ.get(schedule.setting) or schedule.default)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    return settings


# The kinds of file the portal's upload can tell by their content (portal/uploads.py FILE_TYPES says how).
UPLOAD_TYPES = ("pdf", "xml", "jpeg", "png")


def _upload_types() -> tuple[str, ...]:
    value = os.environ.get("PORTAL_UPLOAD_TYPES") or ",".join(UPLOAD_TYPES)
    names = tuple(dict.fromkeys(name.strip().lower() for name in value.split(",") if name.strip()))
    unknown = [name for name in names if name not in UPLOAD_TYPES]
    if unknown or not names:
        raise ConfigError(f"PORTAL_UPLOAD_TYPES must name some of {', '.join(UPLOAD_TYPES)} (it is {value!r}).")
    return names


def allowed_networks(text: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`127.0.0.1, 10.20.0.0/16, ::1` → networks; raises ValueError naming the bad entry."""
    networks = []
    for entry in (text or "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.20.0.0/16)") from None
    return tuple(networks)


def _networks(name: str) -> str:
    value = os.environ.get(name) or ""
    try:
        allowed_networks(value)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}.") from None
    return value


def from_environment(debug: bool, testing: bool = False) -> dict:
    instance = instance_path()
    return {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": _secret_key(instance, debug, testing),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'clientdesk.db'}",
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "MAIL_URL": os.environ.get("MAIL_URL") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM") or "ClientDesk <no-reply@clientdesk.example>",
        # Seconds to wait before each new attempt when the mail server is unreachable.
        "MAIL_RETRY_DELAYS": tuple(float(s) for s in (os.environ.get("MAIL_RETRY_DELAYS") or "1,4,15").split(",") if s),
        **_worker_timings(),
        # How long e-mails, Peppol registrations and deliveries that failed for a passing reason are retried.
        "DELIVERY_RETRY_HOURS": _whole_number("DELIVERY_RETRY_HOURS", 24, "hours"),
        "OUTBOX_DIR": os.environ.get("OUTBOX_DIR") or str(instance / "outbox"),
        "PUBLIC_BASE_URL": (os.environ.get("PUBLIC_BASE_URL") or f"http://{DEV_HOST}:{DEV_PORT}").rstrip("/"),
        "FIRM_NAME": os.environ.get("FIRM_NAME") or "Demo Accounting Firm",
        # The DNS server asked by every lookup of ours (Peppol SML, outbound destinations, SPF and DKIM of inbound
        # mail) instead of the system resolver: "host", "host:port" or "[v6]:port".
        "DNS_SERVER": os.environ.get("DNS_SERVER") or None,
        # Peppol: the SML zone looked up for "registered elsewhere", and the access point that registers our
        # participants.
        "PEPPOL_SML_ZONE": (os.environ.get("PEPPOL_SML_ZONE") or "participant.sml.prod.tech.peppol.org").strip("."),
        "PEPPOL_AP_URL": (os.environ.get("PEPPOL_AP_URL") or "").rstrip("/") or None,
        "PEPPOL_AP_TOKEN": os.environ.get("PEPPOL_AP_TOKEN") or None,
        # Where staff-given destinations (API and sFTP delivery) and the SMPs the SML names may be: public
        # addresses, plus these networks ("10.20.0.0/16, 127.0.0.1").
        "OUTBOUND_ALLOWED_NETWORKS": _networks("OUTBOUND_ALLOWED_NETWORKS"),
        # Inbound mail: the listener of `flask inbound`, its size limit, and where documents are stored.
        "INBOUND_SMTP_HOST": os.environ.get("INBOUND_SMTP_HOST") or "127.0.0.1",
        "INBOUND_SMTP_PORT": int(os.environ.get("INBOUND_SMTP_PORT") or 2525),
        "INBOUND_MAX_MESSAGE_BYTES": int(os.environ.get("INBOUND_MAX_MESSAGE_BYTES") or 25 * 1024 * 1024),
        # How long a lookup of an inbound message's SPF or DKIM records waits for the DNS before the check is a
        # temporary error.
        "INBOUND_DNS_TIMEOUT_SECONDS": _whole_number("INBOUND_DNS_TIMEOUT_SECONDS", 5, "seconds"),
        "DOCUMENTS_DIR": os.environ.get("DOCUMENTS_DIR") or str(instance / "documents"),
        # The portal's upload: the largest file (and upload request) it takes, in bytes, and the kinds of file.
        "PORTAL_UPLOAD_MAX_BYTES": _whole_number("PORTAL_UPLOAD_MAX_BYTES", 20 * 1024 * 1024, "bytes"),
        "PORTAL_UPLOAD_TYPES": _upload_types(),
        # How long an import's uploaded file is kept (its annotated copy is made from it), in days.
        "IMPORT_FILES_KEEP_DAYS": _whole_number("IMPORT_FILES_KEEP_DAYS", 30, "days"),
        # The folder whose KBO/BCE extracts (folders or .zip) the schedule "kbo_updates" loads; unset: none.
        "KBO_INBOX_DIR": os.environ.get("KBO_INBOX_DIR") or None,
        # Days before an invitation expires that its contact is reminded of it (one e-mail per day mark).
        "INVITATION_REMINDER_DAYS": _days_list("INVITATION_REMINDER_DAYS", "7,2"),
        # Days before an active client's trial ends without a plan that its contact and firm contact are reminded of it.
        "TRIAL_REMINDER_DAYS": _days_list("TRIAL_REMINDER_DAYS", "7,1"),
        # When the scheduled work runs (schedule.py; `flask worker --with-scheduler` runs the scheduler).
        **_schedules(),
        # Tests only: scheduled work reads the time moved by the seconds in Redis under clock.SHIFT_KEY (clock.py).
        "TEST_CLOCK": os.environ.get("TEST_CLOCK") == "1",
        # A session ends after this long without a request, and this long after sign-in whatever its use.
        "SESSION_IDLE_MINUTES": _whole_number("SESSION_IDLE_MINUTES", 60, "minutes"),
        "SESSION_MAX_HOURS": _whole_number("SESSION_MAX_HOURS", 12, "hours"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "").lower() in {"1", "true", "yes"},
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "FLASK_ADMIN_RAISE_ON_INTEGRITY_ERROR": False,
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "en_GB",
        "BABEL_DEFAULT_TIMEZONE": FIRM_TIMEZONE.key,  # times are stored in UTC and shown in Belgian time
        "LANGUAGES": ["en", "fr", "nl", "de"],
        # Who must sign in with a second factor (TOTP): "admin", "all" staff users, or "none" (each user may still).
        "REQUIRE_2FA": _two_factor_policy(),
        # How passwords are hashed (werkzeug's notation); stored hashes name their method, so a change applies to the
        # passwords set from then on and the others keep working.
        "PASSWORD_HASH_METHOD": _password_hash_method(),
        # Failed sign-ins allowed per address and per account (e-mail) before attempts have to wait: tiers in the
        # notation of the `limits` library, each with a longer window (login_throttle.py).
        "LOGIN_LIMITS_PER_ADDRESS": os.environ.get("LOGIN_LIMITS_PER_ADDRESS") or "20/minute;100/hour;300/day",
        "LOGIN_LIMITS_PER_ACCOUNT": os.environ.get("LOGIN_LIMITS_PER_ACCOUNT") or "5/minute;10/15 minutes;20/hour;50/day",
        # Reverse proxies in front of the app whose X-Forwarded-For is trusted for the client's address.
        "TRUSTED_PROXIES": _whole_number("TRUSTED_PROXIES", 0, "proxies", minimum=0),
    }
