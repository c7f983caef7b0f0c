"""``python -m kubenova`` is the ``kubenova`` command."""

import sys

from kubenova.cli import main

sys.exit(main())
