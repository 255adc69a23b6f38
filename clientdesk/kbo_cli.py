"""`flask --app app kbo ...`: the company register."""
import click
from flask.cli import AppGroup

kbo_cli = AppGroup("kbo", help="Company register (KBO/BCE open data).")


@kbo_cli.command("load")
@click.argument("source", metavar="SOURCE", type=click.Path(exists=True))
@click.option("--force", is_flag=True, help="Load even if this extract is already the register in use, or apply an "
                                            "update that does not follow the register's extract.")
@click.option("--recheck-now", is_flag=True, help="Re-check “don't verify VAT” clients here instead of on the queue.")
def load_command(source, force, recheck_now):
    """Load a KBO open-data extract (folder or .zip of CSV files): a Full one as the company register, an update
    applied to it."""
    from . import tasks, vat_check
    from .services.kbo_loader import LoadError, load_register
    from .services.register import company_register

    try:
        report = load_register(source, force=force, echo=click.echo)
    except LoadError as error:
        raise click.ClickException(str(error)) from None
    if report.update:
        click.echo(f"Applied update extract {report.extract_number}: {report.deleted:,} enterprises deleted, "
                   f"{report.inserted:,} inserted, {report.changed:,} changed, in {report.seconds:.1f} s; "
                   f"{report.skipped:,} malformed rows skipped.")
    else:
        rate = report.enterprises / report.seconds if report.seconds else 0
        click.echo(f"Loaded {report.enterprises:,} enterprises in {report.seconds:.1f} s ({rate:,.0f}/s); "
                   f"{report.skipped:,} malformed rows skipped.")
    click.echo(f"{len(report.flagged):,} register changes for clients to review.")
    if not recheck_now:
        try:
            task = vat_check.launch_recheck()
        except tasks.QueueUnavailable:
            click.echo("The queue is not reachable: re-checking “don't verify VAT” clients now.")
        else:
            click.echo(f"Re-check of “don't verify VAT” clients queued (task {task.id}).")
            return
    result = vat_check.recheck(company_register())
    click.echo(f"Re-checked {result['checked']} clients: {result['found']} found, {result['missing']} still missing.")
