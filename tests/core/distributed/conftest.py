"""Makes ``launches`` (starting several ranks under a hard timeout) importable from these tests."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
