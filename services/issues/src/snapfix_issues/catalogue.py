"""The category catalogue (Open311 "services"): specs, attribute checks and the in-memory copy.

Storage-free: the store and the refresh loop live in ``repository`` and ``app``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

import yaml  # type: ignore[import-untyped]  # no stubs in the lock; only safe_load is used
from pydantic import TypeAdapter

# The specs are the contract of issues.catalogue.v1 (the gateway keeps a copy): they live in shared.
from snapfix_shared.messages.catalogue import (
    AttributeSpec,
    AttributeValueOption,
    CategoryBody,
    CategorySpec,
    attribute_errors,
)

__all__ = [
    "AttributeSpec",
    "AttributeValueOption",
    "Catalogue",
    "CategoryBody",
    "CategorySpec",
    "attribute_errors",
    "seed_categories",
]


class Catalogue:
    """The categories as last read from the store: command checks need no store read."""

    def __init__(self, specs: Iterable[CategorySpec] = ()) -> None:
        self._specs: dict[str, CategorySpec] = {s.code: s for s in specs}

    def replace(self, specs: Iterable[CategorySpec]) -> None:
        self._specs = {s.code: s for s in specs}

    def put(self, spec: CategorySpec) -> None:
        self._specs = {**self._specs, spec.code: spec}

    def get(self, code: str) -> CategorySpec | None:
        return self._specs.get(code)

    def all(self) -> list[CategorySpec]:
        return sorted(self._specs.values(), key=lambda s: s.code)

    def departments(self) -> set[str]:
        return {s.department for s in self._specs.values()}


_SEED: TypeAdapter[list[CategorySpec]] = TypeAdapter(list[CategorySpec])


def seed_categories() -> list[CategorySpec]:
    """The categories shipped with the service (``categories.yaml``)."""
    text = resources.files("snapfix_issues").joinpath("categories.yaml").read_text(encoding="utf-8")
    return _SEED.validate_python(yaml.safe_load(text))
