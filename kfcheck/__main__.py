"""python -m kfcheck: see kfcheck.cli."""

import sys

from kfcheck.cli import main

sys.exit(main())
