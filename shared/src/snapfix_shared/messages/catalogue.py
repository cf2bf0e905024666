"""Contract of ``issues.catalogue.v1``: the category catalogue as its owner (the issues service) publishes it.

The topic is compacted and keyed by category code: the last record of a code is that category
as it stands. The gateway reads the whole topic at start, then follows it, and checks a report's
category and attributes against that copy before accepting it; the issues consumer checks again
against its own catalogue and stays the authority. What an attribute's ``datatype`` means for a
value is part of the contract (``attribute_errors``), so both sides judge a value alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from snapfix_shared.messages.base import Event
from snapfix_shared.messages.issues import AttributeValue, CategoryCode, DepartmentCode
from snapfix_shared.messages.text import PlainText

Datatype = Literal["string", "number", "boolean", "singlevaluelist"]
AttributeCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_]*$")]


class AttributeValueOption(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class AttributeSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: AttributeCode
    description: str = Field(default="", max_length=500)
    datatype: Datatype
    required: bool = False
    values: tuple[AttributeValueOption, ...] = ()

    @model_validator(mode="after")
    def _lists_have_values(self) -> AttributeSpec:
        if self.datatype == "singlevaluelist" and not self.values:
            raise ValueError(f"attribute {self.code}: a singlevaluelist needs values")
        return self


CannedResponseId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
MAX_CANNED_RESPONSES = 20


class CannedResponse(BaseModel):
    """A prepared reply staff pick when commenting on or resolving an issue of the category.

    Added to the contract after v1 shipped (additively): a record without any is valid. Its text
    refuses control characters (no record on the topic ever held one).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: CannedResponseId = Field(description="A short slug, unique within the category")
    title: Annotated[str, Field(min_length=1, max_length=80), PlainText]
    body: Annotated[str, Field(min_length=1, max_length=2000), PlainText]


class CategoryBody(BaseModel):
    """A category as an admin writes it (``PUT /v1/categories/{code}``): everything but the code."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    group: str = Field(default="", max_length=100)
    description: str = Field(default="", max_length=1000)
    keywords: tuple[str, ...] = Field(default=(), max_length=50)
    department: DepartmentCode
    sla_hours: int = Field(ge=1, le=24 * 365)
    attributes: tuple[AttributeSpec, ...] = Field(default=(), max_length=30)
    canned_responses: tuple[CannedResponse, ...] = Field(
        default=(),
        max_length=MAX_CANNED_RESPONSES,
        description="Prepared replies for staff (shown to staff and admins only)",
    )

    @model_validator(mode="after")
    def _unique_codes(self) -> CategoryBody:
        codes = [a.code for a in self.attributes]
        if len(codes) != len(set(codes)):
            raise ValueError("attribute codes must be unique")
        ids = [c.id for c in self.canned_responses]
        if len(ids) != len(set(ids)):
            raise ValueError("canned response ids must be unique")
        return self


class CategorySpec(CategoryBody):
    code: CategoryCode


def attribute_errors(spec: CategorySpec, attributes: Mapping[str, AttributeValue]) -> list[tuple[str, str]]:
    """``(field, message)`` for every attribute that does not fit the category; empty when all fit."""
    errors: list[tuple[str, str]] = []
    known = {a.code: a for a in spec.attributes}
    for code, value in attributes.items():
        attribute = known.get(code)
        if attribute is None:
            errors.append((f"attributes.{code}", f"category {spec.code} has no attribute {code}"))
        elif (message := _type_error(attribute, value)) is not None:
            errors.append((f"attributes.{code}", message))
    errors.extend(
        (f"attributes.{a.code}", f"{a.code} is required for {spec.code}")
        for a in spec.attributes
        if a.required and a.code not in attributes
    )
    return errors


def _type_error(attribute: AttributeSpec, value: AttributeValue) -> str | None:
    match attribute.datatype:
        case "string":
            ok = isinstance(value, str)
        case "number":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        case "boolean":
            ok = isinstance(value, bool)
        case "singlevaluelist":
            keys = [v.key for v in attribute.values]
            if not isinstance(value, str) or value not in keys:
                return f"must be one of {', '.join(keys)}"
            return None
    return None if ok else f"must be a {attribute.datatype}"


class CategoryPublished(Event):
    """A category as it stands now (created or changed), keyed by its code on a compacted topic."""

    type: Literal["CategoryPublished"] = "CategoryPublished"
    category: CategorySpec

    def partition_key(self) -> str:
        return self.category.code


# One union per topic, discriminated on ``type``; new members are added with ``|``.
CatalogueRecord = Annotated[CategoryPublished, Field(discriminator="type")]
CATALOGUE_RECORDS: TypeAdapter[CatalogueRecord] = TypeAdapter(CatalogueRecord)
