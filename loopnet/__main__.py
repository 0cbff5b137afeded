"""`python -m loopnet` runs the command line."""

import sys

from loopnet.cli import main

sys.exit(main())
