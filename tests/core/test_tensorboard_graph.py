"""SummaryWriter.add_graph: the traced graph written as a GraphDef, read back with TensorBoard's
own EventAccumulator."""

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import ember
import ember.nn as nn
from ember.utils.tensorboard import SummaryWriter


def _graph(log_dir):
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    assert accumulator.Tags()["graph"]
    return accumulator.Graph()


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.conv(x).relu().flatten(1)).log_softmax(dim=1)


def test_add_graph_writes_a_readable_graph_def(tmp_path, capsys):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_graph(_Block(), ember.randn(2, 1, 4, 4), verbose=True)
    assert "conv2d" in capsys.readouterr().out
    graph = _graph(tmp_path)
    nodes = {node.name: node for node in graph.node}
    assert {"input/0", "conv/weight", "conv/bias", "head/weight", "head/bias",
            "output/0"} <= set(nodes)
    conv = next(node for node in graph.node if node.op == "conv2d")
    assert conv.name.startswith("conv/") and list(conv.input) == [
        "input/0", "conv/weight", "conv/bias"]  # the bias is an input of conv2d, as in PyTorch
    shape = conv.attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [2, 2, 2, 2]
    output = nodes["output/0"]
    assert nodes[output.input[0]].op == "log_softmax"
    # every input names a node of the graph
    assert all(name in nodes for node in graph.node for name in node.input)


def test_add_graph_of_a_function_with_several_inputs(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_graph(lambda a, b: (a * b).sum(), (ember.ones(3), ember.ones(3)))
    graph = _graph(tmp_path)
    assert [node.op for node in graph.node] == ["input", "input", "mul", "sum", "output"]
