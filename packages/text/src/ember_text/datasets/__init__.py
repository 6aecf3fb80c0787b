"""Datasets: the Stanford Sentiment Treebank and plain-text corpora for language modelling."""

from ember_text.datasets.corpus import TextCorpus
from ember_text.datasets.sst import NEUTRAL, SST

__all__ = ["NEUTRAL", "SST", "TextCorpus"]
