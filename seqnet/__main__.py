"""``python -m seqnet``: the ``seqnet`` command."""

import sys

from .cli import main

sys.exit(main())
