"""Multi-tensor ("foreach") steps: the parameters of a group that share a device, a dtype and the
same kind of state are updated together, through flat state buffers.

PyTorch's ``foreach`` path keeps one state tensor per parameter and runs each operation of the
update once over lists of tensors. Ember keeps each state buffer of such a bucket as ONE flat array
and ``optimizer.state[p][name]`` as a view of its slice, so ``state_dict()`` keeps PyTorch's
per-parameter format. A step gathers the bucket's gradients and parameters into flat arrays, runs
the optimizer's update once on them and writes each parameter's slice back. On cupy the whole
step is one kernel (``ember.backend.multi_tensor``); only the step that creates the state takes
the flat path there, with one kernel each to gather and to scatter.

The layout of a group is rebuilt (copying the per-parameter state in) whenever it no longer
matches: another set of parameters has gradients, the state was replaced (``load_state_dict``) or
a state tensor is no longer the view the layout made, a parameter's array was replaced.
"""

from __future__ import annotations

import operator

import numpy as np

from ember.backend import CPU, device_context, device_of, multi_tensor, xp_of
from ember.tensor import Tensor

# On the CPU with ``foreach=None`` a bucket is flattened only where that was measured faster:
# parameters of at most CPU_FLAT_MAX_ELEMENTS elements, in runs of at most CPU_FLAT_MAX_TOTAL
# (the flat buffers stay in cache), of two or more whose mean size is at most the optimizer's
# ``_cpu_flat_mean``. The per-parameter path costs Python and ufunc calls per tensor, the flat
# one three copies per element (gradients, parameters in and out): Adam on 12 tensors of 256
# elements 119 -> 44 us a step, of 2048 elements 143 -> 142 us, 8 tensors of 4096 128 -> 163 us.
CPU_FLAT_MAX_ELEMENTS = 4096
CPU_FLAT_MAX_TOTAL = 1 << 15


class GroupLayout:
    """The buckets of one parameter group for the parameters that have gradients this step, and
    the parameters left to the per-parameter path."""

    __slots__ = ("buckets", "foreach", "group", "ids", "single")

    def __init__(self, group: dict, params: list, state, scalar_names: tuple,
                 cpu_flat_mean: int) -> None:
        self.group = group
        self.foreach = group.get("foreach")
        self.ids = tuple(map(id, params))
        self.buckets: list[FlatBucket] = []
        self.single: list = []
        if len(set(self.ids)) != len(self.ids):  # a duplicated parameter updates twice, in order
            self.single = params
            return
        members: dict = {}
        for param in params:
            key = _bucket_key(param, state[param], scalar_names, self.foreach)
            if key is None:
                self.single.append(param)
            else:
                members.setdefault(key, []).append(param)
        for key, bucket_params in members.items():
            if self.foreach is not None or key[0] != CPU:
                self.buckets.append(FlatBucket(bucket_params, state, scalar_names))
                continue
            for run in _runs(bucket_params, CPU_FLAT_MAX_TOTAL):
                if len(run) >= 2 and sum(p.numel() for p in run) <= cpu_flat_mean * len(run):
                    self.buckets.append(FlatBucket(run, state, scalar_names))
                else:
                    self.single.extend(run)

    def matches(self, group: dict, params: list, state) -> bool:
        """Whether this layout still describes ``group`` with gradients for ``params``."""
        return (group is self.group and group.get("foreach") is self.foreach
                and self.ids == tuple(map(id, params))
                and all(bucket.matches(state) for bucket in self.buckets))


def _runs(params: list, max_total: int) -> list:
    """``params`` in order, cut into runs of at most ``max_total`` elements each."""
    runs, total = [[]], 0
    for param in params:
        if runs[-1] and total + param.numel() > max_total:
            runs.append([])
            total = 0
        runs[-1].append(param)
        total += param.numel()
    return runs


def _bucket_key(param: Tensor, state: dict, scalar_names: tuple, foreach):
    """What parameters must share to be updated together: device, dtype, state names and the
    values of the host scalars (``step``); None where ``param`` takes the per-parameter path."""
    array, grad = param._array, param.grad._array
    device = device_of(array)
    if (foreach is None and device == CPU and array.size > CPU_FLAT_MAX_ELEMENTS
            or array.dtype.kind != "f" or type(grad) is not type(array)
            or grad.dtype != array.dtype or grad.shape != array.shape
            or device_of(grad) != device):
        return None
    scalars = []
    for name, value in state.items():
        if not isinstance(value, Tensor):
            return None
        held = value._array
        if name in scalar_names:
            if type(held) is not np.ndarray or held.shape != ():
                return None
            scalars.append((name, held.item()))
        elif (type(held) is not type(array) or held.dtype != array.dtype
              or held.shape != array.shape or device_of(held) != device):
            return None
    return device, array.dtype, tuple(sorted(scalars)), frozenset(state)


class FlatBucket:
    """Parameters updated together, with their state as flat buffers (``state``: the state of
    one flat parameter) that each parameter's state entries are views of."""

    __slots__ = ("arrays", "device", "dtypes", "flat_params", "helds", "param_buffer",
                 "param_slices", "param_table", "params", "published", "scalar_names", "shapes",
                 "slices", "state", "views", "xp")

    def __init__(self, params: list, state, scalar_names: tuple) -> None:
        self.params = params
        self.arrays = [p._array for p in params]
        self.shapes = [a.shape for a in self.arrays]
        self.dtypes = [a.dtype for a in self.arrays]
        self.xp = xp_of(self.arrays[0])
        self.device = device_of(self.arrays[0])
        self.scalar_names = scalar_names
        ends = np.cumsum([a.size for a in self.arrays]).tolist()
        self.slices = [slice(start, end) for start, end in zip([0, *ends[:-1]], ends)]
        self.param_buffer = self.param_slices = self.flat_params = self.param_table = None
        self.helds = [state[p] for p in params]
        self.state: dict = {}
        with device_context(self.device):
            for name in self.helds[0]:
                if name in scalar_names:
                    self.state[name] = Tensor(self.helds[0][name]._array.copy())
                else:
                    self.state[name] = Tensor(self.xp.concatenate(
                        [held[name]._array.reshape(-1) for held in self.helds]))
        self.views: list = []
        self.published: set = set()
        self._publish()

    def matches(self, state) -> bool:
        """Whether every parameter keeps its array and its state the views and scalars this
        bucket made, and every gradient is shaped and typed like its parameter."""
        params, helds = self.params, self.helds
        if (not all(map(operator.is_, [p._array for p in params], self.arrays))
                or not all(map(operator.is_, [state.get(p) for p in params], helds))
                or [id(v) for held in helds for v in held.values()] != self.views):
            return False
        grads = [p.grad._array for p in params]
        array_type = type(self.arrays[0])
        if ([g.shape for g in grads] != self.shapes or [g.dtype for g in grads] != self.dtypes
                or not all(type(g) is array_type for g in grads)):
            return False
        for name in self.scalar_names:
            if name in self.state:
                value = self.state[name]._array.item()
                if [held[name]._array.item() for held in helds].count(value) != len(helds):
                    return False
        return True

    def step(self, optimizer, group: dict) -> None:
        """One update of every parameter of the bucket."""
        grads = [p.grad._array for p in self.params]
        with device_context(self.device):
            tables = multi_tensor.one_kernel_fits(self.arrays + grads)
            if tables and self.param_table is None:
                self.param_table = multi_tensor.PointerTable(self.arrays)
            if not (tables and self._fused_step(optimizer, grads, group)):
                self._flat_step(optimizer, grads, group, tables)
        self._publish()
        for param in self.params:
            param._bump_version()

    def _fused_step(self, optimizer, grads: list, group: dict) -> bool:
        """The update as one kernel, where the optimizer has one."""
        fused = getattr(optimizer, "_fused_update", None)
        return fused is not None and fused(self.param_table, grads, self.state, group)

    def _flat_step(self, optimizer, grads: list, group: dict, tables: bool) -> None:
        """Gathers gradients and parameters into flat buffers, runs the optimizer's update on them
        (the per-parameter update: the same arithmetic element by element), writes back; with
        ``tables`` (cupy) each copy is one kernel."""
        xp = self.xp
        if self.param_buffer is None:
            self.param_buffer = xp.empty(self.slices[-1].stop, self.dtypes[0])
            self.param_slices = [self.param_buffer[s].reshape(shape)
                                 for s, shape in zip(self.slices, self.shapes)]
            if all(a.flags.c_contiguous for a in self.arrays):  # then reshape(-1) is a view
                self.flat_params = [a.reshape(-1) for a in self.arrays]
        if tables:
            multi_tensor.gather(self.param_table, self.param_buffer)
            flat_grad = xp.empty_like(self.param_buffer)
            multi_tensor.gather(multi_tensor.PointerTable(grads), flat_grad)
        else:
            xp.concatenate(self.flat_params or [a.reshape(-1) for a in self.arrays],
                           out=self.param_buffer)
            flat_grad = xp.concatenate([g.reshape(-1) for g in grads])
        optimizer._update(Tensor(self.param_buffer), flat_grad, self.state, group)
        if tables:
            multi_tensor.scatter(self.param_buffer, self.param_table)
        else:
            for array, updated in zip(self.arrays, self.param_slices):
                array[...] = updated

    def _publish(self) -> None:
        """Gives each parameter the new values of the host scalars and views of the flat buffers
        the update created."""
        created = not self.views
        for name, value in self.state.items():
            if name in self.scalar_names:
                for entries in self.helds:
                    if name in entries:
                        entries[name]._array[()] = value._array
                    else:
                        entries[name] = Tensor(value._array.copy())
                        created = True
            elif name not in self.published:
                self.published.add(name)
                created = True
                for entries, part, shape in zip(self.helds, self.slices, self.shapes):
                    entries[name] = Tensor(value._array[part].reshape(shape))
        if created:
            self.views = [id(v) for held in self.helds for v in held.values()]
