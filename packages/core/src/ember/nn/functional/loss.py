"""Loss functions with PyTorch's signatures; ``reduction`` is ``'none'``, ``'mean'`` or ``'sum'``.

Every loss is composed of differentiable ops, so it is twice differentiable. Class indices,
ignore masks and class weights are constants: they are prepared once on raw arrays.
"""

from __future__ import annotations

import warnings

from ember.backend import check_extremes, reading_waits, xp_of
from ember.tensor.registry import OPS, PRIMITIVES
from ember.tensor.tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce) -> str:
    """PyTorch's deprecated ``size_average`` / ``reduce`` flags as a ``reduction`` string."""
    warnings.warn(
        "size_average and reduce args will be deprecated, please use reduction='mean' (or "
        "'sum', 'none') instead.",
        stacklevel=4,
    )
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _reduction(size_average, reduce, reduction: str, allowed=_REDUCTIONS) -> str:
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_size(name: str, input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"{name}: Using a target size ({tuple(target.shape)}) that is different to the input "
            f"size ({tuple(input.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


# ---- regression -----------------------------------------------------------------------------


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Squared error ``(input - target)^2`` (times ``weight``), reduced.

    Example:
        >>> F.mse_loss(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 4.0])).item()
        2.0
    """
    reduction = _reduction(size_average, reduce, reduction)
    _same_size("mse_loss", input, target)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Absolute error ``|input - target|``, reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    _same_size("l1_loss", input, target)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``d = |input - target| < beta``, else ``d - 0.5 beta``."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _same_size("smooth_l1_loss", input, target)
    distance = (input - target).abs()
    if beta == 0:
        return _reduce(distance, reduction)
    loss = OPS["where"](distance < beta, distance * distance * (0.5 / beta),
                        distance - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d^2`` where ``d = |input - target| < delta``, else ``delta (d - 0.5 delta)``."""
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _same_size("huber_loss", input, target)
    distance = (input - target).abs()
    loss = OPS["where"](distance < delta, distance * distance * 0.5,
                        (distance - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---- classification by class index -----------------------------------------------------------


def _check_class_shapes(name: str, input: Tensor, target: Tensor) -> int:
    """Validates (C,)/() or (N, C, *)/(N, *) shapes; returns the class dim."""
    if input.dim() == 0:
        raise ValueError(f"{name}: Expected input of 1 or more dimensions (got 0)")
    if target._array.dtype.kind not in "iu":
        raise RuntimeError(
            f"{name}: expected target of class indices of an integer dtype (Long), but found "
            f"{target.dtype}"
        )
    class_dim = 0 if input.dim() == 1 else 1
    expected = tuple(input.shape[:class_dim]) + tuple(input.shape[class_dim + 1:])
    if tuple(target.shape) != expected:
        if input.dim() >= 2 and target.dim() >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(
                f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                f"({target.shape[0]})."
            )
        raise RuntimeError(
            f"{name}: size mismatch (got input: {tuple(input.shape)}, target: "
            f"{tuple(target.shape)}); the target must be the input's shape without the class "
            f"dim {class_dim}"
        )
    return class_dim


def _target_weights(target: Tensor, weight: Tensor | None, ignore_index: int, classes: int,
                    dtype):
    """``(safe_target, sample_weight)`` arrays: ignored targets replaced by 0, and each
    target's class weight (0 where ignored); ``sample_weight`` is None when all are 1."""
    xp = xp_of(target._array)
    indices = target._array
    valid = xp.asarray(indices != ignore_index)  # 0-d targets: an array, not a numpy bool
    # On a GPU, whether any target is ignored is not read (a host synchronisation): the mask
    # is applied as if some were.
    any_ignored = reading_waits(valid) or not bool(valid.all())
    safe = xp.where(valid, indices, 0) if any_ignored else indices
    if safe.size:
        check_extremes(safe, lambda low, high: _target_error(low, high, classes))
    if weight is None:
        sample_weight = valid.astype(dtype) if any_ignored else None
    else:
        sample_weight = xp.asarray(weight._array.astype(dtype, copy=False)[safe])
        if any_ignored:
            sample_weight = xp.asarray(sample_weight * valid)  # 0-d stays an array
    return safe, sample_weight


def _target_error(low: int, high: int, classes: int):
    if high >= classes or low < 0:
        return IndexError(f"Target {high if high >= classes else low} is out of bounds.")
    return None


def _check_weight(name: str, weight: Tensor | None, classes: int) -> None:
    if weight is not None and (weight.dim() != 1 or weight.shape[0] != classes):
        raise RuntimeError(
            f"{name}: weight tensor should be defined either for all {classes} classes or no "
            f"classes but got weight tensor of shape: {tuple(weight.shape)}"
        )


def _weighted_mean(total: Tensor, sample_weight, count: int, scale: float = 1.0) -> Tensor:
    """``scale * total`` over the summed sample weights (``count`` when all are 1), one op:
    PyTorch's 'mean' of class-index losses divides by the weight of the counted targets."""
    if sample_weight is None:
        return total * (scale / count) if count else total * float("nan")
    denominator = sample_weight.sum() / scale
    # Every target ignored or weighted 0: nan, as 0 / 0, without a warning (a GPU divides
    # without one, and its sum is not read: a host synchronisation)
    if not reading_waits(sample_weight) and not denominator:
        return total * float("nan")
    xp = xp_of(sample_weight)
    return total / Tensor(xp.asarray(denominator, dtype=sample_weight.dtype))


def _pick(log_probs: Tensor, safe, class_dim: int) -> Tensor:
    """``log_probs`` at each sample's target class, the class dim kept: ``(N, 1, *)``."""
    return log_probs.gather(class_dim, Tensor(xp_of(safe).expand_dims(safe, class_dim)))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of class indices ``target`` (N, *) under log-probabilities
    ``input`` (N, C, *) (or (C,) and ()).

    Example:
        >>> log_probs = ember.tensor([[0.0, -1.0], [-2.0, 0.0]])
        >>> F.nll_loss(log_probs, ember.tensor([1, 0])).item()
        1.5
    """
    reduction = _reduction(size_average, reduce, reduction)
    class_dim = _check_class_shapes("nll_loss", input, target)
    classes = input.shape[class_dim]
    _check_weight("nll_loss", weight, classes)
    safe, sample_weight = _target_weights(target, weight, ignore_index, classes,
                                          input._array.dtype)
    picked = _pick(input, safe, class_dim)
    if sample_weight is not None:
        picked = picked * Tensor(xp_of(safe).expand_dims(sample_weight, class_dim))
    if reduction == "none":
        return -picked.squeeze(class_dim)
    # The sign folds into the last scalar op: gather, sum, scale (4 ops with log_softmax).
    total = picked.sum()
    if reduction == "sum":
        return -total
    return _weighted_mean(total, sample_weight, safe.size, scale=-1.0)


def _class_view(weight: Tensor, ndim: int, class_dim: int) -> Tensor:
    """A (C,) weight shaped to broadcast along ``class_dim`` of an ``ndim``-D tensor."""
    shape = [1] * ndim
    shape[class_dim] = weight.shape[0]
    return weight.reshape(tuple(shape))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits ``input`` (N, C, *) and ``target``.

    ``target`` is class indices (N, *) (``ignore_index`` skipped; ``weight`` per class; 'mean'
    divides by the summed weight of the counted targets) or class probabilities of the input's
    shape. ``label_smoothing`` mixes the target with the uniform distribution.

    Example:
        >>> logits = ember.tensor([[2.0, 0.0, 0.0]])
        >>> round(F.cross_entropy(logits, ember.tensor([0])).item(), 4)
        0.2395
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.dim() == 0:
        raise ValueError("cross_entropy: Expected input of 1 or more dimensions (got 0)")
    class_dim = 0 if input.dim() == 1 else 1
    classes = input.shape[class_dim]
    _check_weight("cross_entropy", weight, classes)
    if target._array.dtype.kind != "f" and label_smoothing == 0.0 and input._array.size:
        return _cross_entropy_of_indices(input, target, weight, ignore_index, reduction)
    log_probs = OPS["log_softmax"](input, class_dim)
    if target._array.dtype.kind == "f":
        return _cross_entropy_probabilities(log_probs, target, weight, reduction,
                                            label_smoothing, class_dim)
    if label_smoothing == 0.0:
        return nll_loss(log_probs, target, weight, ignore_index=ignore_index,
                        reduction=reduction)
    _check_class_shapes("cross_entropy", input, target)
    safe, sample_weight = _target_weights(target, weight, ignore_index, classes,
                                          input._array.dtype)
    # (1 - eps) * nll + eps / C * smooth, both weighted, both divided by the same total weight.
    nll = -_pick(log_probs, safe, class_dim).squeeze(class_dim)
    if weight is not None:
        log_probs = log_probs * _class_view(weight, input.dim(), class_dim)
    smooth = -log_probs.sum(class_dim)
    if sample_weight is not None:
        nll = nll * Tensor(sample_weight)
        counted = xp_of(safe).asarray(target._array != ignore_index)
        smooth = smooth * Tensor(counted.astype(input._array.dtype))
    loss = nll * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)
    if reduction == "mean":
        return _weighted_mean(loss.sum(), sample_weight, safe.size)
    return _reduce(loss, reduction)


def _cross_entropy_of_indices(input, target, weight, ignore_index, reduction) -> Tensor:
    """Class-index cross entropy as one fused op over (M, C) rows, the class dim last; then
    weighted and reduced as ``nll_loss`` does. (An empty input takes the composed path: a max
    over no classes has no identity.)"""
    if input._array.dtype.kind != "f":
        raise NotImplementedError(  # PyTorch's type (a RuntimeError subclass)
            f"cross_entropy(): expected a floating point input, got {input.dtype}")
    class_dim = _check_class_shapes("cross_entropy", input, target)
    classes = input.shape[class_dim]
    safe, sample_weight = _target_weights(target, weight, ignore_index, classes,
                                          input._array.dtype)
    rows = input
    if input.dim() == 1:
        rows = input.reshape(1, classes)
    elif input.dim() > 2:
        rows = input.movedim(1, -1).reshape(-1, classes)
    losses = PRIMITIVES["cross_entropy"].apply(rows, Tensor(safe.reshape(-1)))
    if sample_weight is not None:
        losses = losses * Tensor(sample_weight.reshape(-1))
    if reduction == "none":
        return losses if input.dim() == 2 else losses.reshape(tuple(target.shape))
    total = losses.sum()
    if reduction == "sum":
        return total
    return _weighted_mean(total, sample_weight, safe.size)


def _cross_entropy_probabilities(log_probs, target, weight, reduction, label_smoothing,
                                 class_dim):
    if tuple(target.shape) != tuple(log_probs.shape):
        raise RuntimeError(
            f"cross_entropy: a floating point target holds class probabilities and must have the "
            f"input's shape {tuple(log_probs.shape)}, got {tuple(target.shape)}"
        )
    classes = log_probs.shape[class_dim]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    products = log_probs * target
    if weight is not None:
        products = products * _class_view(weight, log_probs.dim(), class_dim)
    loss = -products.sum(class_dim)
    if reduction == "mean":
        count = log_probs.numel() // classes if classes else 0
        return loss.sum() / count if count else loss.sum() * float("nan")
    return _reduce(loss, reduction)


# ---- binary classification -------------------------------------------------------------------


def _probability_error(low: float, high: float):
    # a NaN makes both extremes NaN and fails too, as PyTorch's elementwise check does
    if not (low >= 0 and high <= 1):
        return RuntimeError("all elements of input should be between 0 and 1")
    return None


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``-(t log x + (1 - t) log(1 - x))`` for probabilities ``input``; logs clamped at -100."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}) is deprecated. Please ensure they have the same size."
        )
    if input._array.size:
        check_extremes(input._array, _probability_error)
    loss = PRIMITIVES["binary_cross_entropy"].apply(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross entropy in one stable expression, for logits ``input``.

    ``(1 - t) x - (1 + (pos_weight - 1) t) log(sigmoid(x))``; ``pos_weight`` (broadcast along
    the last dim) weighs the positive term.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({tuple(target.shape)}) must be the same as input size "
            f"({tuple(input.shape)})"
        )
    log_sigmoid = OPS["logsigmoid"](input)
    if pos_weight is None:
        loss = (1.0 - target) * input - log_sigmoid
    else:
        loss = (1.0 - target) * input - ((pos_weight - 1.0) * target + 1.0) * log_sigmoid
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---- distributions and embeddings ------------------------------------------------------------


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence ``target * (log target - input)`` for log-probabilities ``input``.

    ``reduction='batchmean'`` divides the sum by the batch size (the mathematical KL);
    ``log_target`` means ``target`` holds log-probabilities too.
    """
    reduction = _reduction(size_average, reduce, reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        # xlogy: 0 log 0 = 0, without a nan gradient from log(0)
        safe_log = OPS["where"](positive, target, 1.0).log()
        loss = target * safe_log - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() else loss.sum()
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos(x1, x2) - margin)`` where it is -1."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise RuntimeError(
            f"cosine_embedding_loss: expected 1-D or 2-D inputs of equal shapes, got "
            f"{tuple(input1.shape)} and {tuple(input2.shape)}"
        )
    dim = input1.dim() - 1
    epsilon = 1e-12
    products = (input1 * input2).sum(dim)
    magnitudes = ((input1 * input1).sum(dim) + epsilon) * ((input2 * input2).sum(dim) + epsilon)
    cosine = products / magnitudes.sqrt()
    where = OPS["where"]
    loss = where(target == 1, 1.0 - cosine, 0.0) + where(
        target == -1, (cosine - margin).clamp_min(0.0), 0.0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``."""
    reduction = _reduction(size_average, reduce, reduction)
    if not (input1.dim() == input2.dim() == target.dim()):
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, target: "
            f"{tuple(target.shape)} "
        )
    loss = (-target * (input1 - input2) + margin).clamp_min(0.0)
    return _reduce(loss, reduction)
