"""Entry point of the sandbox container: `python3 -E -s -S -u /opt/rfx/runner.py [--fresh]`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rfx_sandbox.runner import main

if __name__ == "__main__":
    main()
