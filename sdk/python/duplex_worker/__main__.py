"""``python -m duplex_worker``: a worker serving the built-in test tone (``sine-440``)."""

import sys

from .cli import main

sys.exit(main())
