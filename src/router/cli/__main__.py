"""`python -m router.cli`, as the tests and the scripts run it."""

from router.cli import app

app()
