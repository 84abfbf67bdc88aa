"""``python -m push`` and the ``push-server`` console script: the server's command line, run by the
compiled module (same flags, environment variables, ``--help`` and exit codes as the Cargo binary)."""

from __future__ import annotations

import sys
from typing import NoReturn

from push._push import server_main


def main() -> NoReturn:
    sys.exit(server_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
