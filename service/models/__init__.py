"""All ORM tables, one module per aggregate; importing this registers them on Base.metadata."""

from service.models.audit import AuditChainHead, AuditEvent
from service.models.base import Base
from service.models.care import (
    Course,
    CourseCorrection,
    CourseNumberCounter,
    CourseTransfer,
    CourseVersion,
    Patient,
    Referral,
    Visit,
)
from service.models.client import ApiClient
from service.models.events import Event, WebhookDelivery, WebhookEndpoint
from service.models.objection import Objection
from service.models.reference import (
    Hospital,
    Municipality,
    Payer,
    PriceIndex,
    TariffRate,
    TariffVersion,
)
from service.models.security import DeniedAttempt, SignedOutSession
from service.models.settlement import (
    CourseHoldRelease,
    CoursePosition,
    SettlementApproval,
    SettlementInput,
    SettlementIssue,
    Statement,
    StatementFile,
    StatementLine,
)

__all__ = [
    "ApiClient",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Course",
    "CourseCorrection",
    "CourseHoldRelease",
    "CourseNumberCounter",
    "CoursePosition",
    "CourseTransfer",
    "CourseVersion",
    "DeniedAttempt",
    "Event",
    "Hospital",
    "Municipality",
    "Objection",
    "Patient",
    "Payer",
    "PriceIndex",
    "Referral",
    "SettlementApproval",
    "SettlementInput",
    "SettlementIssue",
    "SignedOutSession",
    "Statement",
    "StatementFile",
    "StatementLine",
    "TariffRate",
    "TariffVersion",
    "Visit",
    "WebhookDelivery",
    "WebhookEndpoint",
]
