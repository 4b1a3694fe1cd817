"""`python -m bench`: the whole scale benchmark (bench/run.py); `make bench` runs it."""

import sys

from bench.run import main

sys.exit(main())
