"""ONNX export: ``ember.onnx.export(model, args, f)`` writes a traced model as an ONNX graph.

Needs the ``onnx`` extra (``pip install 'ember[onnx]'``: onnx and onnxruntime).
"""

from ember.onnx.builder import UnsupportedOperatorError
from ember.onnx.export import export

__all__ = ["UnsupportedOperatorError", "export"]
