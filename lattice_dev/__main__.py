"""``python -m lattice_dev up|binaries|crds`` (see :mod:`lattice_dev.cli`)."""

import sys

from lattice_dev.cli import main

sys.exit(main())
