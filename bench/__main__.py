"""Entry point for ``python3 -m bench``; see :mod:`bench.bench`."""

from bench.bench import main

raise SystemExit(main())
