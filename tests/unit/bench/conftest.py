"""Make bench/ importable: the verdict logic and the run history of make bench live there."""
import os
import sys

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                     'bench')
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
