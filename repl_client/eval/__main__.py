"""``python3 -m repl_client.eval``: the ``repl-eval`` command."""

from .cli import main

raise SystemExit(main())
