"""Ember Text: vocabularies, tokenizers, parse trees and recursive tree-nets on top of Ember.

Planned modules: ``vocab``, tokenizers, ``trees`` (PTB/SST s-expressions, batching by depth),
``nn`` (TreeLSTM, RNTN, language-model heads) and ``datasets`` (SST, plain-text corpora).
"""

__version__ = "0.1.0"
