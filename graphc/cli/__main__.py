"""``python -m graphc.cli``: the same entry point as the ``graphc`` script."""

from .main import main

raise SystemExit(main())
