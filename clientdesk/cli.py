"""`flask --app app ...` commands of the contract."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from werkzeug.serving import run_simple

from .config import DEV_HOST, DEV_PORT
from .extensions import db
from .models import Group, Role, User
from .passwords import WeakPassword

users_cli = AppGroup("users", help="Staff users.")
groups_cli = AppGroup("groups", help="Groups (teams).")
demo_cli = AppGroup("demo", help="Demo data.")
clients_cli = AppGroup("clients", help="Clients: import and export.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.STAFF.value, show_default=True)
@click.option("--group", "group_names", multiple=True, help="Group to join (repeatable); created if missing.")
@click.option("--name", default="", help="Full name.")
def create_user(email, password, role, group_names, name):
    """Create a staff user."""
    from .forms import validators as v

    try:
        email = v.email(email)
    except v.InvalidValue as error:
        raise click.ClickException(str(error)) from None
    if User.by_email(email):
        raise click.ClickException(f"A user with e-mail {email} already exists.")
    user = User(email=email, full_name=name, role=role)
    try:
        user.set_password(password)
    except WeakPassword as error:
        raise click.ClickException(f"The password is refused: {error}") from None
    for group_name in group_names:
        group = Group.by_name(group_name) or Group(name=group_name.strip())
        user.groups.append(group)
    user.join_default_group_if_in_none()
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created {role} {email} in {', '.join(group.name for group in user.groups)}.")


@groups_cli.command("create")
@click.argument("name")
def create_group(name):
    """Create a group (team)."""
    name = name.strip()
    if not name:
        raise click.ClickException("The group needs a name.")
    if Group.by_name(name):
        raise click.ClickException(f"Group {name!r} already exists.")
    db.session.add(Group(name=name))
    db.session.commit()
    click.echo(f"Created group {name}.")


@demo_cli.command("load")
@click.option("--clients", default=200, show_default=True, help="Number of demo clients to add.")
def load_demo_command(clients):
    """Load demo groups, users, templates and clients."""
    from .demo import load_demo

    result = load_demo(clients=clients)
    click.echo(f"Added {result['clients']} demo clients.")
    click.echo(f"Demo logins (password {result['password']}): " + ", ".join(result["users"]))


@clients_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_clients(path):
    """Export every client to FILE.csv or FILE.xlsx."""
    from .exports import write_csv, write_xlsx

    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        count = write_csv(path)
    elif suffix == ".xlsx":
        count = write_xlsx(path)
    else:
        raise click.ClickException("The file name must end in .csv or .xlsx.")
    click.echo(f"Exported {count} clients to {path}.")


@clients_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "as_email", required=True, help="E-mail of the admin who imports (recorded as the author).")
@click.option("--group", "group_name", help="Group every new client joins (a Groupe/Group/Team column in the file wins).")
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change, import nothing.")
def import_clients_command(path, as_email, group_name, dry_run):
    """Import clients from FILE.xlsx: all rows or none."""
    from .imports import create_batch, run_batch
    from .imports.summary import summary_lines

    user = User.by_email(as_email)
    if user is None or not user.is_admin:
        raise click.ClickException(f"{as_email} is not an admin user: only admins may import clients.")
    group = None
    if group_name:
        group = Group.by_name(group_name)
        if group is None:
            raise click.ClickException(f"There is no group called {group_name!r}.")
    batch = create_batch(path, Path(path).name, user, group=group, dry_run=dry_run)
    db.session.commit()
    batch = run_batch(batch.id)
    for line in summary_lines(batch):
        click.echo(line)
    if batch.error_count:
        sys.exit(1)


@clients_cli.command("check-rules")
def check_rules_command():
    """List the clients and templates that break a client rule (rows from before it); exit 1 if there are any."""
    from .rules import violations

    found = violations()
    for line in found:
        click.echo(line)
    if found:
        raise click.exceptions.Exit(1)
    click.echo("Every client and template keeps the client rules.")


@clients_cli.command("purge-imports")
def purge_imports_command():
    """Delete the uploaded files of imports older than IMPORT_FILES_KEEP_DAYS days (their records stay)."""
    from .imports import remove_old_files

    count = remove_old_files()
    click.echo(f"Deleted {count} import files older than {current_app.config['IMPORT_FILES_KEEP_DAYS']} days.")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queue", "queues", multiple=True, help="Queue to listen on (repeatable; default: all).")
@click.option("--with-scheduler", is_flag=True, help="Also run the scheduler of the scheduled work (each run happens once, "
                                                     "however many workers run it).")
@with_appcontext
def worker_command(burst, queues, with_scheduler):
    """Run an RQ worker on the app's queues."""
    from .broker import QUEUE_NAMES
    from .jobs.worker import run_worker

    run_worker(queues or QUEUE_NAMES, burst=burst, with_scheduler=with_scheduler)


@click.command("inbound")
@click.option("--host", default=None, help="Address to listen on (default INBOUND_SMTP_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on (default INBOUND_SMTP_PORT, 2525).")
@with_appcontext
def inbound_command(host, port):
    """Receive documents by e-mail: an SMTP listener for the clients' inbound addresses."""
    from .services.inbound import serve

    serve(current_app._get_current_object(), host, port)


@click.command("dev")
@click.option("--host", default=DEV_HOST, show_default=True)
@click.option("--port", default=DEV_PORT, show_default=True)
@click.option("--demo-clients", default=200, show_default=True, help="Demo clients to load into an empty database.")
@with_appcontext
def dev_command(host, port, demo_clients):
    """Set up and run everything for a demo: migrate, load demo data, start a worker (with the scheduler) and the web
    server."""
    from flask_migrate import upgrade

    # Both stop everything, through the `finally` below. A shell starts a script's background jobs with SIGINT
    # ignored, and Python then leaves it ignored; SIGTERM's default would end this process alone, leaving the
    # worker running (and starting the embedded Redis again).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    from .admin import build_admin
    from .broker import redis_url
    from .demo import DEMO_CLIENT_USER, DEMO_PASSWORD, DEMO_USERS, load_demo
    from .models import Client

    app = current_app._get_current_object()
    if "admin" not in app.blueprints:  # the commands' app (app.py) comes without its screens
        build_admin(app)
    upgrade()
    if not db.session.scalar(db.select(Client.id).limit(1)):
        load_demo(clients=demo_clients)
    redis_url(app)  # the embedded Redis, if it is the one, started here: it runs as long as this process
    # The worker derives the invitation links from the same key as the web server.
    env = dict(os.environ, INSTANCE_PATH=app.config["INSTANCE_PATH"], SECRET_KEY=app.config["SECRET_KEY"])
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--with-scheduler"], env=env,
                              cwd=Path(__file__).resolve().parent.parent)
    try:
        click.echo("")
        click.echo(f"ClientDesk is running at http://{host}:{port}/  (Ctrl-C stops web, worker and Redis)")
        click.echo(f"Demo logins, password {DEMO_PASSWORD}:")
        for email, _name, role, groups in DEMO_USERS:
            click.echo(f"  {role.value:<10} {email}" + (f"  ({', '.join(groups)})" if groups else ""))
        click.echo(f"  {'client':<10} {DEMO_CLIENT_USER}  (the client portal: http://{host}:{port}/portal/login)")
        click.echo("")
        run_simple(host, port, app, threaded=True)  # returns on KeyboardInterrupt
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def register_commands(app) -> None:
    from .kbo_cli import kbo_cli

    for command in (users_cli, groups_cli, demo_cli, clients_cli, worker_command, dev_command, inbound_command, kbo_cli):
        app.cli.add_command(command)
