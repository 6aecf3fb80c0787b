"""SummaryWriter: PyTorch's method names over tensorboardX (the ``tensorboard`` extra)."""

from __future__ import annotations

import importlib.util

import numpy as np

from ember.tensor import Tensor
from ember.utils.tensorboard.video import encode_gif, tile_clips


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

    def add_figure(self, tag: str, figure, global_step=None, close: bool = True,
                   walltime=None) -> None:
        """A matplotlib figure (or a list of them, side by side) as an image.

        Raises:
            ImportError: without matplotlib.
            TypeError: for something other than a matplotlib figure.
        """
        if importlib.util.find_spec("matplotlib") is None:
            raise ImportError("add_figure needs matplotlib: pip install matplotlib")
        figures = figure if isinstance(figure, list) else [figure]
        for item in figures:
            if not hasattr(item, "canvas"):
                raise TypeError(f"add_figure: expected a matplotlib Figure or a list of them, "
                                f"got {type(item).__name__}")
        self._writer.add_figure(tag, figure, global_step, close, walltime)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None,
                      tag: str = "default", metadata_header=None) -> None:
        """Points ``mat`` (N, D) for TensorBoard's projector, with one label per point
        (``metadata``, or rows of labels under ``metadata_header``) and thumbnails
        ``label_img`` (N, C, H, W). Written as files under ``log_dir`` (the projector's
        format), not as events."""
        mat = np.asarray(_values(mat))
        if mat.ndim != 2:
            raise ValueError(f"add_embedding: expected a matrix (N, D), got shape {mat.shape}")
        if metadata is not None and len(metadata) != len(mat):
            raise ValueError(f"add_embedding: {len(metadata)} labels for {len(mat)} points")
        label_img = None if label_img is None else np.asarray(_values(label_img))
        self._writer.add_embedding(mat, metadata, label_img, global_step, tag, metadata_header)

    def add_pr_curve(self, tag: str, labels, predictions, global_step=None,
                     num_thresholds: int = 127, weights=None, walltime=None) -> None:
        """A precision-recall curve of ``predictions`` (probabilities in [0, 1]) against
        binary ``labels``, at ``num_thresholds`` thresholds."""
        labels = np.asarray(_values(labels))
        predictions = np.asarray(_values(predictions))
        if labels.shape != predictions.shape:
            raise ValueError(f"add_pr_curve: labels {labels.shape} and predictions "
                             f"{predictions.shape} must have the same shape")
        if predictions.size and (predictions.min() < 0 or predictions.max() > 1):
            raise ValueError("add_pr_curve: predictions must be probabilities in [0, 1]")
        weights = None if weights is None else np.asarray(_values(weights))
        self._writer.add_pr_curve(tag, labels, predictions, global_step, num_thresholds,
                                  weights, walltime)

    def add_video(self, tag: str, vid_tensor, global_step=None, fps: float = 4,
                  walltime=None) -> None:
        """Clips ``(N, T, C, H, W)`` (uint8, or floats in [0, 1]; C is 1 or 3) as one animated
        GIF image, the clips in a grid. Ember encodes the GIF with Pillow (tensorboardX needs
        moviepy)."""
        from tensorboardX.proto.summary_pb2 import Summary

        frames = tile_clips(np.asarray(_values(vid_tensor)))
        _, height, width, channels = frames.shape
        image = Summary.Image(height=height, width=width, colorspace=channels,
                              encoded_image_string=encode_gif(frames, fps))
        summary = Summary(value=[Summary.Value(tag=tag, image=image)])
        # tensorboardX has no public method for a ready summary; its own add_* use this one.
        self._writer._get_file_writer().add_summary(summary, global_step, walltime)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
