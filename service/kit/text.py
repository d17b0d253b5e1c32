"""The strings a client writes into the service, as the API models type them.

Every stored string of a request body is one of two types:

- `Text`: no NUL character (U+0000). PostgreSQL's `text` cannot hold one (the driver failed
  with a 500 and a traceback) and SQLite would keep it, so both databases are spared it by
  the same check, here. Strict: a JSON string only, within its bounds.
- `FreeText`: what a person types (a department, a note, a reason) is a `Text` that holds
  no CPR-shaped number either (`service.domain.cpr.contains_cpr`): it is stored and shown
  verbatim to readers who may not see CPR numbers (the region). The patient's number goes
  in `patient_cpr` only, where it is encrypted.

Both refuse with a 422 that names the field and the rule, never the value (the messages
here hold none). NUL in a path, a query or a header is refused by service/kit/nul.py.

    department: Annotated[str, FreeText(max_length=200)] | None = None
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from service.domain.cpr import contains_cpr

NUL = "\x00"
NUL_MESSAGE = "must not contain a NUL character (U+0000)"
CPR_MESSAGE = (
    "free text must not contain a CPR number (10 digits, DDMMYY-SSSS): it is shown to "
    "readers who may not see one"
)


@dataclass(frozen=True)
class Text:
    """A stored string: a JSON string of `min_length` to `max_length` characters (and
    `pattern`, if given), without NUL. The bounds are in the OpenAPI document."""

    max_length: int
    min_length: int = 0
    pattern: str | None = None

    description = "Text without NUL characters"

    def check(self, value: str) -> str:
        if NUL in value:
            raise ValueError(NUL_MESSAGE)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        text = core_schema.str_schema(
            strict=True,
            min_length=self.min_length or None,
            max_length=self.max_length,
            pattern=self.pattern,
        )
        return core_schema.no_info_after_validator_function(self.check, text)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("description", self.description)
        return json_schema


@dataclass(frozen=True)
class FreeText(Text):
    """Text a person types: a `Text` without a CPR-shaped number."""

    description = (
        "Free text: no NUL character and no CPR number (10 digits, DDMMYY-SSSS, whose first "
        "six are a date); either is refused with 422 naming the field"
    )

    def check(self, value: str) -> str:
        super().check(value)
        if contains_cpr(value):
            raise ValueError(CPR_MESSAGE)
        return value
