"""The docstring examples of ember run and print what they say (tests/vision does the same).

Every module whose source holds an example is collected, so a new example is tested without
listing it here. Examples see their module's globals plus ``ember``, ``nn`` (``ember.nn``) and
``F`` (``ember.nn.functional``), the names a PyTorch user's script has; anything else they use
they define. They run in a temporary directory, since some write files.
"""

import pytest

import ember
import ember.nn
import ember.nn.functional
from docstrings import modules_with_examples, run_examples

GLOBALS = {"ember": ember, "nn": ember.nn, "F": ember.nn.functional}


@pytest.mark.parametrize("name", modules_with_examples("ember"))
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_examples(name, GLOBALS)
