"""``python -m ember_rl``: see ``ember_rl.cli``."""

import sys

from ember_rl.cli import main

sys.exit(main())
