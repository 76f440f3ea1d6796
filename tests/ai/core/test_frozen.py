"""direct_constructor: the same frozen object as the class's own __init__ builds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from ai.core.frozen import direct_constructor


@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int
    tags: dict[str, str] = field(default_factory=dict)


def test_it_builds_an_equal_frozen_object_of_the_same_type() -> None:
    built = direct_constructor(Point)(1, 2, {"a": "b"})
    assert type(built) is Point and built == Point(1, 2, {"a": "b"})
    assert dataclasses.replace(built, x=3) == Point(3, 2, {"a": "b"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.x = 5  # type: ignore[misc]


def test_every_field_must_be_given_none_is_defaulted() -> None:
    new_point = direct_constructor(Point)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'tags'"):
        new_point(1, 2)
    with pytest.raises(TypeError, match="takes 3 positional arguments but 4 were given"):
        new_point(1, 2, {}, 4)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        new_point(1, 2, {}, z=4)
    assert new_point(y=2, x=1, tags={}) == Point(1, 2)  # by name too


def test_classes_it_would_build_wrongly_are_refused() -> None:
    @dataclass(slots=True)
    class Mutable:
        x: int

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError("x must be >= 0")

    for cls in (Mutable, NoSlots):
        with pytest.raises(TypeError, match="not a frozen dataclass with slots"):
            direct_constructor(cls)
    with pytest.raises(TypeError, match="__post_init__"):
        direct_constructor(Checked)


@dataclass(frozen=True, slots=True)
class Labelled(Point):
    label: str = ""


def test_a_class_with_inherited_slots_is_built_as_well() -> None:
    """Slots split over a base and a subclass cannot be twinned; the slot-by-slot form
    builds the same object."""
    built = direct_constructor(Labelled)(1, 2, {}, "p")
    assert type(built) is Labelled and built == Labelled(1, 2, {}, "p")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.label = "q"  # type: ignore[misc]


def test_objects_built_directly_are_independent() -> None:
    new_point = direct_constructor(Point)
    first, second = new_point(1, 2, {"a": "b"}), new_point(3, 4, {})
    assert (first.x, first.y, first.tags) == (1, 2, {"a": "b"})
    assert (second.x, second.y, second.tags) == (3, 4, {})
