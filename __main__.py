"""``python -m imu2safety``: the same command line as the ``imu2safety`` console script."""

import sys

from .cli import main

sys.exit(main())
