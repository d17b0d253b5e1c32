"""ORM rows to response schemas, by field name.

A schema whose every field is a column of its row says so with
`ConfigDict(from_attributes=True)` and is built by `Schema.model_validate(row)`. Most
responses add what the row does not hold (a revealed CPR number, counts, derived flags):
`from_row` reads the same way and takes those as keywords, so no field is copied by hand.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

SchemaT = TypeVar("SchemaT", bound=BaseModel)


def from_row(schema: type[SchemaT], row: object, **derived: Any) -> SchemaT:
    """`schema` with each field from `derived` when given there, else from the row's
    attribute of that name (a field neither has is an AttributeError: a programming error)."""
    unknown = derived.keys() - schema.model_fields.keys()
    if unknown:
        raise TypeError(f"{schema.__name__} has no fields {sorted(unknown)}")
    values = {
        name: derived[name] if name in derived else getattr(row, name)
        for name in schema.model_fields
    }
    return schema.model_validate(values)
