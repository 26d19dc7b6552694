"""``python -m pic_api.agent`` / ``pic-agent``: run the privileged agent (as root, from its unit)."""

from __future__ import annotations

import logging
import sys

from ..config import Config
from .server import serve


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    serve(Config.load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
