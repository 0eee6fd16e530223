"""The `clets` command.

Every user mistake (bad YAML, unknown key or name, bad range, missing or unwritable
path) ends with one message on stderr naming the field and the value, and exit
code 2; nothing half-written is left looking complete.

One module per group of commands; each registers its commands on the shared `app`.
"""

from __future__ import annotations

import sys

# the commands register on import, in the order `clets --help` lists them
# isort: off
from sim.cli import run  # noqa: F401
from sim.cli import network  # noqa: F401
from sim.cli import journal  # noqa: F401
from sim.cli import cases  # noqa: F401
from sim.cli import experiments  # noqa: F401
from sim.cli import compare  # noqa: F401
from sim.cli import calibrate  # noqa: F401
from sim.cli import check  # noqa: F401
from sim.cli import availability  # noqa: F401
from sim.cli import params  # noqa: F401
from sim.cli import sensitivity  # noqa: F401
# isort: on
from sim.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
