"""The command line: a thin layer over the core. Messages for people are in Chinese.

One module per command family, each presentation only (parsing, printing, exit codes);
this one assembles them into the ``router`` command in the order ``router --help`` lists.
"""

from __future__ import annotations

import typer

from router.cli import batch, jurisdiction, ledger, models, route, serve, train
from router.cli.zh import install as _chinese_usage

_chinese_usage()  # click's and typer's own words (usage errors, help) in Chinese

app = typer.Typer(
    help="人大代表建议分办助手：建议承办单位、职责判定与置信度。",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(train.train)
app.command()(train.evaluate)
app.command()(route.route)
app.command()(batch.batch)
app.command()(models.retrain)
app.command()(models.calibrate)
app.command()(serve.serve)
app.command("report")(ledger.report)
app.add_typer(models.models_app, name="models")
app.add_typer(ledger.db_app, name="db")
app.add_typer(jurisdiction.local_app, name="jurisdiction")
app.add_typer(ledger.users_app, name="users")

__all__ = ["app"]
