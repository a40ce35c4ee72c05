"""``python -m lattice_common.devcluster up|binaries|crds`` (see :mod:`lattice_common.devcluster.cli`)."""

import sys

from lattice_common.devcluster.cli import main

sys.exit(main())
