"""What a simulation did: counts of what happened, the issued totals, and the refusals.

Everything but the elapsed time is the same for the same seed (`comparable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.domain.money import format_kr


@dataclass
class SimulationSummary:
    """What the simulation did; all but `elapsed_seconds` is the same for the same seed."""

    referrals: int = 0
    rejected: int = 0
    auto_rejected: int = 0
    courses: int = 0
    completed: int = 0
    late_registrations: int = 0
    corrections: int = 0
    cancellations: int = 0
    active_at_end: int = 0
    visits: int = 0
    deviating_visits: int = 0
    patients_substituted: int = 0
    issued: dict[str, dict[str, int]] = field(default_factory=dict)
    """Period → kommunekode → statement total (øre)."""
    errors: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    @property
    def months_issued(self) -> int:
        return len(self.issued)

    @property
    def issued_total_ore(self) -> int:
        return sum(sum(totals.values()) for totals in self.issued.values())

    def comparable(self) -> dict[str, object]:
        """Everything but the elapsed time: what a run with the same seed reproduces."""
        return {k: v for k, v in self.__dict__.items() if k != "elapsed_seconds"}

    def lines(self) -> list[str]:
        return [
            f"referrals: {self.referrals} ({self.rejected} rejected by the municipality, "
            f"{self.auto_rejected} parenteral nutrition rejected by policy)",
            f"courses: {self.courses} ({self.completed} completed, {self.active_at_end} still "
            f"active, {self.late_registrations} registered late, {self.corrections} end dates "
            f"corrected, {self.cancellations} cancelled)",
            f"visits: {self.visits} ({self.deviating_visits} flagged as deviations)",
            f"months issued: {self.months_issued}, total {format_kr(self.issued_total_ore)} kr.",
            f"errors: {len(self.errors)}",
            f"elapsed: {self.elapsed_seconds:.1f} s",
        ]
