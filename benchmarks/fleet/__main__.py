"""`python -m benchmarks.fleet [--quick]`: run the fleet benchmark and print its figures."""

import sys

from benchmarks.fleet.ramp import run

for f in run(quick="--quick" in sys.argv):
    print(f)
