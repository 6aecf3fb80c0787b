"""Fixtures for the ember_text tests: the shared SST copy (when present) and small inline trees."""

from pathlib import Path

import pytest

#: ../shared/data beside the checkout (CI has it; tests that need it skip where it is absent)
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

#: a few SST lines, with the tokens the format escapes, for when the shared copy is absent
SAMPLE = [
    "(3 (2 It) (4 (4 (2 's) (4 (3 (2 a) (4 (3 lovely) (2 film))) (3 (2 with) (4 (3 (3 lovely) "
    "(2 performances)) (2 (2 by) (2 (2 (2 Buy) (2 and)) (2 Accorsi))))))) (2 .)))",
    "(1 (2 (2 -LRB-) (2 (2 The) (2 film))) (1 (2 -RRB-) (1 (2 is) (1 (2 n't) (3 good)))))",
    "(2 (2 ``) (2 (2 (2 8\xa01\\/2) (2 '')) (2 ...)))",
    "(4 (2 wow) (4 !))",
    "(2 single)",
]


@pytest.fixture(scope="session")
def sample_lines():
    return list(SAMPLE)


@pytest.fixture(scope="session")
def sst_dir():
    path = SHARED_DATA / "sst"
    if not (path / "train.txt").exists():
        pytest.skip(f"SST is not at {path}")
    return path
