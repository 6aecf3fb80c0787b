"""The model registry: builders by name, as ``torchvision.models.get_model`` / ``list_models``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from types import ModuleType

from ember import nn
from ember_vision.models._weights import WeightsEnum

__all__ = ["get_model", "get_model_builder", "get_model_weights", "get_weight", "list_models",
           "register_model"]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
_WEIGHTS: dict[str, type[WeightsEnum]] = {}


def register_model(name: str | None = None, *, weights: type[WeightsEnum] | None = None):
    """Decorator registering a builder under ``name`` (default: the function's name).

    Args:
        name: the registry name.
        weights: the model's ``WeightsEnum`` when pretrained weights ship for it.
    """

    def register(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or builder.__name__
        if key in _BUILDERS:
            raise ValueError(f"register_model: a model named {key!r} is already registered")
        _BUILDERS[key] = builder
        if weights is not None:
            _WEIGHTS[key] = weights
        return builder

    return register


def _patterns(value: str | Iterable[str] | None) -> tuple[str, ...]:
    return () if value is None else (value,) if isinstance(value, str) else tuple(value)


def list_models(module: ModuleType | None = None, include: str | Iterable[str] | None = None,
                exclude: str | Iterable[str] | None = None) -> list[str]:
    """Sorted names of the registered models.

    Args:
        module: keep only the builders defined in this module (or its submodules).
        include: Unix shell-style patterns (``"resnet*"``); keep names matching any of them.
        exclude: patterns; drop names matching any of them.

    Example:
        >>> list_models(include="resnet*", exclude="resnet5*")
        ['resnet18', 'resnet20', 'resnet32', 'resnet34']
    """
    names = [name for name, builder in _BUILDERS.items()
             if module is None or builder.__module__.startswith(module.__name__)]
    if include is not None:
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in _patterns(include))]
    names = [n for n in names if not any(fnmatch.fnmatch(n, p) for p in _patterns(exclude))]
    return sorted(names)


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    """The builder function registered as ``name``.

    Raises:
        ValueError: for an unknown name; the message lists the available models.
    """
    try:
        return _BUILDERS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available models: "
                         f"{', '.join(list_models())}") from None


def get_model(name: str, **config) -> nn.Module:
    """Builds the model registered as ``name``.

    Args:
        name: a name from ``list_models()``.
        **config: the builder's keyword arguments: ``weights=`` (None, a ``WeightsEnum`` member
            or ``"DEFAULT"``), ``num_classes=`` and the model's own options.

    Example:
        >>> model = get_model("small_cnn", weights="DEFAULT")
        >>> model(ember.zeros(1, 1, 28, 28)).shape
        (1, 10)
    """
    return get_model_builder(name)(**config)


def get_model_weights(name: str | Callable[..., nn.Module]) -> type[WeightsEnum]:
    """The ``WeightsEnum`` of a model, given its name or its builder.

    Raises:
        ValueError: for an unknown model or one that ships no pretrained weights.
    """
    if callable(name):
        name = next((key for key, builder in _BUILDERS.items() if builder is name),
                    getattr(name, "__name__", repr(name)))
    get_model_builder(name)  # unknown names raise here, listing the models
    try:
        return _WEIGHTS[name.lower()]
    except KeyError:
        raise ValueError(f"model {name!r} ships no pretrained weights; models with weights: "
                         f"{', '.join(sorted(_WEIGHTS))}") from None


def get_weight(name: str) -> WeightsEnum:
    """A weights member by its full name, e.g. ``"SmallCNN_Weights.FASHIONMNIST_V1"``.

    Raises:
        ValueError: when the name is not ``"<Enum>.<MEMBER>"`` of a registered weights enum.
    """
    enum_name, _, member = name.partition(".")
    enums = {enum.__name__: enum for enum in _WEIGHTS.values()}
    if enum_name not in enums or not member:
        raise ValueError(f"unknown weights {name!r}; expected '<Enum>.<NAME>' with an enum "
                         f"among {', '.join(sorted(enums))}")
    return enums[enum_name].verify(member)
