"""SummaryWriter: PyTorch's method names over tensorboardX (the ``tensorboard`` extra)."""

from __future__ import annotations

import numpy as np

from ember.tensor import Tensor


def _values(value):
    """Tensors (on any device, with or without grad) as numpy arrays; the rest unchanged."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return value


class SummaryWriter:
    """Writes TensorBoard event files under ``log_dir`` (default ``runs/<date>_<host>``).

    Example:
        >>> with SummaryWriter("runs/demo") as writer:
        ...     writer.add_scalar("loss/train", 0.5, global_step=1)
    """

    def __init__(self, log_dir=None, comment: str = "", purge_step=None, max_queue: int = 10,
                 flush_secs: int = 120, filename_suffix: str = "") -> None:
        try:
            from tensorboardX import SummaryWriter as _Writer
        except ImportError:
            raise ImportError(
                "SummaryWriter needs tensorboardX: pip install 'ember[tensorboard]'"
            ) from None
        self._writer = _Writer(logdir=log_dir, comment=comment, purge_step=purge_step,
                               max_queue=max_queue, flush_secs=flush_secs,
                               filename_suffix=filename_suffix)

    @property
    def log_dir(self) -> str:
        return self._writer.logdir

    def get_logdir(self) -> str:
        return self._writer.logdir

    def add_scalar(self, tag: str, scalar_value, global_step=None, walltime=None) -> None:
        value = _values(scalar_value)
        self._writer.add_scalar(tag, float(np.asarray(value)), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step=None,
                    walltime=None) -> None:
        scalars = {k: float(np.asarray(_values(v))) for k, v in tag_scalar_dict.items()}
        self._writer.add_scalars(main_tag, scalars, global_step, walltime)

    def add_histogram(self, tag: str, values, global_step=None, bins="tensorflow",
                      walltime=None) -> None:
        self._writer.add_histogram(tag, _values(values), global_step, bins, walltime)

    def add_image(self, tag: str, img_tensor, global_step=None, walltime=None,
                  dataformats: str = "CHW") -> None:
        self._writer.add_image(tag, _values(img_tensor), global_step, walltime,
                               dataformats=dataformats)

    def add_images(self, tag: str, img_tensor, global_step=None, walltime=None,
                   dataformats: str = "NCHW") -> None:
        self._writer.add_images(tag, _values(img_tensor), global_step, walltime,
                                dataformats=dataformats)

    def add_text(self, tag: str, text_string: str, global_step=None, walltime=None) -> None:
        self._writer.add_text(tag, text_string, global_step, walltime)

    def add_hparams(self, hparam_dict: dict, metric_dict: dict, run_name=None) -> None:
        metrics = {k: float(np.asarray(_values(v))) for k, v in metric_dict.items()}
        self._writer.add_hparams(hparam_dict, metrics, name=run_name)

    def add_graph(self, model, input_to_model=None, verbose: bool = False) -> None:
        """Traces ``model`` (``ember.jit.trace``) on ``input_to_model`` (a Tensor or a tuple of
        them) and writes its graph for TensorBoard's graph tab; ``verbose`` prints the graph as
        a table. The graph is built from Ember's trace, not from tensorboardX's torch path."""
        from tensorboardX.proto import event_pb2

        from ember.jit.passes import optimize
        from ember.jit.traced import trace_graph
        from ember.utils.tensorboard.graph import example_inputs, graph_def

        graph = optimize(trace_graph(model, example_inputs(input_to_model))[0])
        if verbose:
            graph.print_tabular()
        event = event_pb2.Event(graph_def=graph_def(graph).SerializeToString())
        self._writer._get_file_writer().add_event(event)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
