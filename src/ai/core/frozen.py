"""Building frozen dataclasses on hot paths by writing their slots directly.

The `__init__` that `dataclass(frozen=True)` generates stores each field through
`object.__setattr__` (the class's own `__setattr__` refuses), a generic call that costs
about twice a slot write. For the stats and the record built on every call, cache hits
included, and the ten matches of every vector query, that is most of a microsecond per
object. `direct_constructor(cls)` builds the same object (same type, equal, hashable and
frozen as before) from every field's value in declaration order.

How: a private twin class declares the same slots in the same order, so its instances
have the same memory layout. The generated function fills a twin with plain attribute
stores (which CPython specialises to direct slot writes) and then sets its `__class__`
to `cls`, which CPython allows exactly when the layouts match. Where a class's layout
cannot be twinned (slots inherited from a base), each slot is written through its
descriptor instead: 0.37 against 0.22 µs for a five-field class here.

It runs no `__post_init__` and fills in no defaults, so it serves objects our own code
builds from values already known to be valid, never values a user passed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def direct_constructor(cls: type[T]) -> Callable[..., T]:
    """A constructor of `cls`, a frozen dataclass with slots and no `__post_init__`, that
    takes the value of every field, by position in the order the class declares them or
    by name, with no defaults.

    The function is generated with one slot write per field, unrolled, as `dataclasses`
    generates `__init__` (a loop over the fields cost more than the `__init__` it replaces
    for a five-field class). Too few, too many or unknown values raise `TypeError`, so a
    field added to the class shows up at once at every call site.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in vars(cls):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} checks its values in __post_init__; use its __init__")
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    construct = _through_twin(cls, names)
    return construct if construct is not None else _through_descriptors(cls, names)


def _through_twin(cls: type[T], names: list[str]) -> Callable[..., T] | None:
    """The fast form, or None where `cls`'s layout cannot be twinned."""
    if cls.__bases__ != (object,) or tuple(vars(cls)["__slots__"]) != tuple(names):
        return None
    twin = type(f"_{cls.__name__}Slots", (), {"__slots__": tuple(names), "__module__": __name__})
    scope: dict[str, Any] = {"_new_": object.__new__, "_cls_": cls, "_twin_": twin}
    writes = "".join(f"    _made_.{name} = {name}\n" for name in names)
    construct: Callable[..., T] = _generated(
        cls, names, f"    _made_ = _new_(_twin_)\n{writes}    _made_.__class__ = _cls_\n", scope
    )
    try:  # CPython refuses the class change unless the layouts match: ask it once here
        construct(*(None for _ in names))
    except TypeError:
        return None
    return construct


def _through_descriptors(cls: type[T], names: list[str]) -> Callable[..., T]:
    """The general form: each slot written through the slot's own descriptor."""
    scope: dict[str, Any] = {"_new_": object.__new__, "_cls_": cls}
    scope.update({f"_set_{name}": getattr(cls, name).__set__ for name in names})
    writes = "".join(f"    _set_{name}(_made_, {name})\n" for name in names)
    return _generated(cls, names, f"    _made_ = _new_(_cls_)\n{writes}", scope)


def _generated(
    cls: type[T], names: list[str], body: str, scope: dict[str, Any]
) -> Callable[..., T]:
    source = f"def direct_{cls.__name__}({', '.join(names)}):\n{body}    return _made_\n"
    exec(source, scope)  # noqa: S102 - generated from the class's own field names
    construct: Callable[..., T] = scope[f"direct_{cls.__name__}"]
    return construct
