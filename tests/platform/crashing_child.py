"""A child for the supervisor tests: counts its starts in a file, then exits with code 3."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    counter = Path(os.environ["CRASH_COUNTER"])
    counter.write_text(str(int(counter.read_text() or "0") + 1) if counter.exists() else "1")
    sys.exit(3)
