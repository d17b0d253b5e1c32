"""Reference data: municipalities, hospitals, tariff versions, price index."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.domain.vocabulary import TreatmentType
from service.models.base import Base, UtcDateTime


class Municipality(Base):
    """One of the region's municipalities (kommune), by kommunekode."""

    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    cluster: Mapped[str] = mapped_column(String(20))
    # §"Scope": parenteral nutrition referrals are rejected while the policy says so.
    parenteral_nutrition_policy: Mapped[str] = mapped_column(String(10), default="reject")
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    # Master data of its e-invoices (NULL: not known yet; never guessed). Set by the data
    # file where it cites a source, else by an admin; `master_data_source` says which.
    cvr: Mapped[str | None] = mapped_column(String(8))
    gln: Mapped[str | None] = mapped_column(String(13))
    street_name: Mapped[str | None] = mapped_column(String(200))
    building_number: Mapped[str | None] = mapped_column(String(20))
    postal_zone: Mapped[str | None] = mapped_column(String(10))
    city_name: Mapped[str | None] = mapped_column(String(100))
    legal_name: Mapped[str | None] = mapped_column(String(200))
    """As registered ("Københavns Kommune"): the name an e-invoice is sent under."""
    master_data_source: Mapped[str | None] = mapped_column(String(500))


class Payer(Base):
    """Who pays statements (a tariff version's payer, by CVR), with what its e-invoices
    need: EAN/GLN, address, and the terms it asks every invoice to carry (order reference,
    account string, reference person). NULL: not known yet."""

    __tablename__ = "payers"

    cvr: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    gln: Mapped[str | None] = mapped_column(String(13))
    street_name: Mapped[str | None] = mapped_column(String(200))
    building_number: Mapped[str | None] = mapped_column(String(20))
    postal_zone: Mapped[str | None] = mapped_column(String(10))
    city_name: Mapped[str | None] = mapped_column(String(100))
    order_reference: Mapped[str | None] = mapped_column(String(100))
    accounting_cost: Mapped[str | None] = mapped_column(String(100))
    contact_reference: Mapped[str | None] = mapped_column(String(100))
    master_data_source: Mapped[str | None] = mapped_column(String(500))


class Hospital(Base):
    """One of the region's referring hospitals, by its short code."""

    __tablename__ = "hospitals"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    shak: Mapped[str | None] = mapped_column(String(10))
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]


class TariffVersion(Base):
    """One version of the agreement's tariff; valid from `valid_from` until the next one's."""

    __tablename__ = "tariff_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(unique=True)
    price_level_year: Mapped[int]
    indexed: Mapped[bool]
    payer_name: Mapped[str] = mapped_column(String(200))
    payer_cvr: Mapped[str] = mapped_column(String(8))
    payer_gln: Mapped[str] = mapped_column(String(13))
    tier_threshold_1: Mapped[int]
    tier_threshold_2: Mapped[int]
    # The agreement file as given (its canonical form), so the version can be shown as loaded.
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    document_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TariffRate(Base):
    """Rates of a version, one row per treatment type and tier, in øre (set-based pricing)."""

    __tablename__ = "tariff_rates"
    __table_args__ = (UniqueConstraint("tariff_version_id", "treatment_type", "tier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tariff_version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id"))
    treatment_type: Mapped[TreatmentType] = mapped_column(String(20))
    tier: Mapped[int]
    included_days: Mapped[int]
    course_fee_ore: Mapped[int] = mapped_column(BigInteger)
    day_fee_ore: Mapped[int] = mapped_column(BigInteger)


class PriceIndex(Base):
    """Finance's price index per year, as an exact decimal in ten-thousandths (100.0 = 1000000)."""

    __tablename__ = "price_indices"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index_e4: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(36))
