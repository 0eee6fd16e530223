"""User-facing errors: the CLI prints their message and exits 2, never a traceback."""


class ScenarioError(Exception):
    """A bad scenario, argument or input file; the message names the field and the value."""
