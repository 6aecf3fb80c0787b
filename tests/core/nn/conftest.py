"""Makes the shared module harness importable as ``module_harness`` from these tests."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
