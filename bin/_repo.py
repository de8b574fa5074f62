"""Imported first by every bin/*.py script (Python puts the script's own folder, bin/, on
sys.path): puts the repository root there too, so `python bin/NAME.py` finds disvae/ and
utils/ from any working directory."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
