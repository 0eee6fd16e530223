"""`python -m sim.cli` is `clets`."""

import sys

from sim.cli import main

sys.exit(main())
