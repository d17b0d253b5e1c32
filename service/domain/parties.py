"""The parties of an e-invoice: who sends it (a municipality) and who pays (the payer of the
statement's tariff version), with the identifiers NemHandel routes by. Pure.

An identifier finance has not confirmed is left empty, never guessed: `missing` names
what an OIOUBL document still lacks, so the export refuses with the field's name.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


def valid_cvr(value: str) -> bool:
    """A CVR number: eight ASCII digits, the first not 0 (the register's form; the old
    modulus-11 control is not applied to numbers issued since 2011, so it is not checked)."""
    return len(value) == 8 and value.isascii() and value.isdigit() and value[0] != "0"


def gln_check_digit(first_12: str) -> int:
    """The GS1 check digit of a GLN/EAN-13: weights 3 and 1 from the right, modulo 10."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(first_12)))
    return (10 - total % 10) % 10


def valid_gln(value: str) -> bool:
    """A GLN (EAN location number): thirteen ASCII digits with a correct check digit."""
    return (
        len(value) == 13
        and value.isascii()
        and value.isdigit()
        and gln_check_digit(value[:12]) == int(value[12])
    )


@dataclass(frozen=True)
class Address:
    street_name: str | None = None
    building_number: str | None = None
    postal_zone: str | None = None
    city_name: str | None = None


@dataclass(frozen=True)
class Party:
    """A party as an e-invoice names it; None: not known yet."""

    name: str
    cvr: str | None = None
    gln: str | None = None
    address: Address = Address()


@dataclass(frozen=True)
class PayerTerms:
    """What the payer asks every invoice to carry (configuration per payer)."""

    order_reference: str | None = None
    accounting_cost: str | None = None
    contact_reference: str | None = None
    """The payer's reference person or unit (the customer's Contact/ID NemHandel routes
    the invoice to inside the payer's organisation)."""


def missing(role: str, party: Party) -> list[str]:
    """The fields of `party` an OIOUBL document needs that are empty, as "<role>.<field>"."""
    absent = [f"{role}.{name}" for name in ("cvr", "gln") if not getattr(party, name)]
    absent += [
        f"{role}.address.{f.name}" for f in fields(Address) if not getattr(party.address, f.name)
    ]
    return absent


def missing_terms(terms: PayerTerms) -> list[str]:
    return [f"payer.{f.name}" for f in fields(PayerTerms) if not getattr(terms, f.name)]
