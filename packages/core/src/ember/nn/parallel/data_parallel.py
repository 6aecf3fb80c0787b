"""``DataParallel``: one module, the batch split over several GPUs, as PyTorch's.

On a machine with one GPU or none it is a transparent wrapper (the module runs as it is, with the
inputs moved to the one GPU); where several GPUs exist it splits every input tensor along ``dim``,
runs the module once per GPU with its parameters copied there (differentiably, so gradients add
up on the original parameters) and concatenates the outputs on ``output_device``.
"""

from __future__ import annotations

from ember.backend import Device, cuda_device_count
from ember.nn.modules.module import Module
from ember.ops.join import cat, stack
from ember.tensor.tensor import Tensor


def scatter(inputs, devices: list, dim: int = 0) -> list:
    """``inputs`` (tensors, and lists, tuples and dicts of them) cut into one piece per device
    along ``dim``; other values are repeated. Fewer pieces when the batch is smaller."""
    if isinstance(inputs, Tensor):
        return [piece.to(device) for piece, device in zip(inputs.chunk(len(devices), dim),
                                                          devices)]
    if isinstance(inputs, (list, tuple)) and inputs:
        pieces = [scatter(item, devices, dim) for item in inputs]
        count = min(len(p) for p in pieces)
        return [type(inputs)(p[i] for p in pieces) if type(inputs) in (list, tuple)
                else type(inputs)(*(p[i] for p in pieces)) for i in range(count)]
    if isinstance(inputs, dict) and inputs:
        pieces = {key: scatter(value, devices, dim) for key, value in inputs.items()}
        count = min(len(p) for p in pieces.values())
        return [{key: p[i] for key, p in pieces.items()} for i in range(count)]
    return [inputs] * len(devices)


def gather(outputs: list, target_device, dim: int = 0):
    """The per-device outputs joined on ``target_device``: tensors concatenated along ``dim``
    (0-d ones stacked into a vector, as PyTorch does with a warning), containers recursively."""
    first = outputs[0]
    if isinstance(first, Tensor):
        moved = [output.to(target_device) for output in outputs]
        return stack(moved) if first.ndim == 0 else cat(moved, dim)
    if first is None:
        return None
    if isinstance(first, dict):
        return type(first)((key, gather([o[key] for o in outputs], target_device, dim))
                           for key in first)
    if isinstance(first, (list, tuple)):
        joined = [gather(list(items), target_device, dim) for items in zip(*outputs)]
        return type(first)(joined) if type(first) in (list, tuple) else type(first)(*joined)
    return first


class _OnDevice:
    """Within the block, ``module``'s parameters and buffers are copies on ``device``; ``to``
    is differentiable, so gradients reach the originals."""

    def __init__(self, module: Module, device: Device) -> None:
        self.module, self.device, self.saved = module, device, []

    def __enter__(self) -> None:
        for sub in self.module.modules():
            for registry in (sub._parameters, sub._buffers):
                for name, tensor in list(registry.items()):
                    if tensor is not None and tensor.device != self.device:
                        self.saved.append((registry, name, tensor))
                        registry[name] = tensor.to(self.device)

    def __exit__(self, *exc_info) -> None:
        for registry, name, tensor in reversed(self.saved):
            registry[name] = tensor


def parallel_apply(module: Module, inputs: list, kwargs: list, devices: list) -> list:
    """``module`` run on each device's piece of the batch, one device after the other."""
    outputs = []
    for args, keywords, device in zip(inputs, kwargs, devices):
        with _OnDevice(module, device):
            outputs.append(module(*args, **keywords))
    return outputs


class DataParallel(Module):
    """Runs ``module`` on the pieces of each batch over several GPUs and joins the outputs.

    Args:
        module: the module to run; its parameters must be on ``device_ids[0]``.
        device_ids: the GPUs to use (indices or devices); all visible ones by default, none on a
            machine without a GPU (then the module simply runs where it is).
        output_device: where outputs are joined; ``device_ids[0]`` by default.
        dim: the batch dimension that inputs are split along and outputs joined along.

    The wrapped module is ``.module``, so ``state_dict()`` keys start with ``module.`` as in
    PyTorch. Buffers updated in ``forward`` (batch-norm statistics) keep the first device's
    update only when the batch is split, as PyTorch's.

    Example:
        >>> model = nn.DataParallel(nn.Linear(3, 2))
        >>> model(ember.ones(4, 3)).shape, list(model.state_dict())
        ((4, 2), ['module.weight', 'module.bias'])
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        self.module = module
        self.dim = dim
        if device_ids is None:
            device_ids = list(range(cuda_device_count()))
        self.device_ids = [_cuda_index(device) for device in device_ids]
        if not self.device_ids:
            self.output_device = None
            self.src_device_obj = None
            return
        self.output_device = _cuda_index(self.device_ids[0] if output_device is None
                                         else output_device)
        self.src_device_obj = Device("cuda", self.device_ids[0])

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        devices = [Device("cuda", index) for index in self.device_ids]
        for tensor in (*self.module.parameters(), *self.module.buffers()):
            if tensor.device != self.src_device_obj:
                raise RuntimeError(
                    "DataParallel: module must have its parameters and buffers on device "
                    f"{self.src_device_obj} (device_ids[0]) but found one of them on device: "
                    f"{tensor.device}"
                )
        return self._apply_over(devices, inputs, kwargs, Device("cuda", self.output_device))

    def _apply_over(self, devices: list, inputs: tuple, kwargs: dict, output_device: Device):
        pieces = scatter(inputs, devices, self.dim) if inputs else []
        keyword_pieces = scatter(kwargs, devices, self.dim) if kwargs else []
        count = max(len(pieces), len(keyword_pieces))
        pieces = pieces or [()] * count
        keyword_pieces = keyword_pieces or [{}] * count
        if count == 1:
            return self.module(*pieces[0], **keyword_pieces[0])
        outputs = parallel_apply(self.module, pieces, keyword_pieces, devices[:count])
        return gather(outputs, output_device, self.dim)


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0,
                  module_kwargs=None):
    """``DataParallel(module, device_ids, output_device, dim)(*inputs, **module_kwargs)`` in one
    call, as ``torch.nn.parallel.data_parallel``; ``inputs`` is a tensor or a tuple of inputs."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    if device_ids is not None:
        device_ids = list(device_ids)
    wrapper = DataParallel(module, device_ids, output_device, dim)
    return wrapper(*inputs, **(module_kwargs or {}))


def _cuda_index(device) -> int:
    if isinstance(device, int):
        return device
    device = Device(device)
    if device.type != "cuda":
        raise ValueError(f"DataParallel: device_ids and output_device must be CUDA devices, got "
                         f"{device}")
    return device.index
