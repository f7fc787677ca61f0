"""``python -m vaelab`` (and ``torchrun -m vaelab``) runs the command-line program."""

import sys

from vaelab.cli.main import main

sys.exit(main())
