"""Graph mode: trace a module or function into a static graph, replay, optimise, save, load.

``trace`` records the primitive ops a call applies (through ``ember.autograd.observe``);
``save``/``load`` store the graph as JSON and the weights as safetensors, without pickle.
"""

from ember.jit.files import load, save
from ember.jit.graph import Graph, Node, Value
from ember.jit.traced import TracedModule, trace
from ember.jit.tracer import TracerWarning

__all__ = ["Graph", "Node", "TracedModule", "TracerWarning", "Value", "load", "save", "trace"]
