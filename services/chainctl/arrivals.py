"""Synthetic arrival reports for demos and tests: seeded, so a seed gives the same people."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

from chainkit.clock import timestamp
from migratieketen.v1.arrival_pb2 import ArrivalReport
from migratieketen.v1.common_pb2 import (
    ArrivalReason,
    ArrivalSetting,
    BiometricReference,
    CalendarDate,
    ClaimedIdentity,
    Gender,
    IdentityDocument,
    Partner,
    PilSourceLevel,
    VulnerabilityIndicator,
)

# Synthetic names only: the demo never carries real personal data.
_GIVEN = ("Amal", "Bilal", "Dawit", "Farah", "Hamid", "Leyla", "Nour", "Omar", "Sara", "Yonas")
_FAMILY = ("Abebe", "Haddad", "Karimi", "Mansour", "Noori", "Osman", "Rahimi", "Tesfaye")
_NATIONALITIES = (
    ("SYR", 0.22), ("AFG", 0.14), ("ERI", 0.10), ("TUR", 0.10), ("IRQ", 0.08), ("YEM", 0.06),
    ("SOM", 0.06), ("MAR", 0.08), ("DZA", 0.05), ("NGA", 0.04), ("COL", 0.04), ("GEO", 0.03),
)  # fmt: skip
_LANGUAGES = {
    "SYR": "ar", "AFG": "ps", "ERI": "ti", "TUR": "tr", "IRQ": "ar", "YEM": "ar",
    "SOM": "so", "MAR": "ar", "DZA": "ar", "NGA": "en", "COL": "es", "GEO": "ka",
}  # fmt: skip


_VULNERABILITY = (
    (VulnerabilityIndicator.VULNERABILITY_INDICATOR_DISABILITY, 0.03),
    (VulnerabilityIndicator.VULNERABILITY_INDICATOR_SIGNS_OF_TRAFFICKING, 0.02),
    (VulnerabilityIndicator.VULNERABILITY_INDICATOR_SIGNS_OF_TORTURE, 0.03),
    (VulnerabilityIndicator.VULNERABILITY_INDICATOR_PREGNANCY, 0.02),
)


def make_arrivals(
    count: int, seed: int = 1, prefix: str = "DEMO", now: datetime | None = None
) -> list[ArrivalReport]:
    """`count` plausible arrivals: border and inland, adults, families, minors, reported
    at `now` (default: the real time). Birth dates match the claimed ages then; `feed`
    with a clock moves both to the chain's simulated now when it publishes a report."""
    rng = random.Random(seed)
    reports = []
    now = now or datetime.now(UTC)
    family: str | None = None
    for i in range(count):
        at_border = rng.random() < 0.4
        nationality = rng.choices([n for n, _ in _NATIONALITIES], [w for _, w in _NATIONALITIES])[0]
        # Every fifth person starts or continues a family group of two or three.
        if family is None and rng.random() < 0.2:
            family = f"{prefix}-FAM-{i:05d}"
        member_of = family
        if family is not None and rng.random() < 0.4:
            family = None
        if member_of and rng.random() < 0.5:
            age = rng.randint(1, 17)
        elif rng.random() < 0.04:
            age = rng.randint(15, 17)  # unaccompanied minor
        else:
            age = rng.randint(18, 60)
        asylum = rng.random() < 0.85
        partner = (
            Partner.PARTNER_KMAR
            if at_border
            else rng.choice((Partner.PARTNER_AVIM, Partner.PARTNER_DISA))
        )
        if at_border:
            reason = (
                ArrivalReason.ARRIVAL_REASON_ASYLUM_AT_BORDER_CROSSING_POINT
                if asylum
                else ArrivalReason.ARRIVAL_REASON_IRREGULAR_CROSSING
            )
        else:
            reason = (
                ArrivalReason.ARRIVAL_REASON_ASYLUM_INLAND
                if asylum
                else ArrivalReason.ARRIVAL_REASON_ILLEGALLY_STAYING
            )
        has_passport = rng.random() < 0.3
        report = ArrivalReport(
            partner_reference=f"{prefix}-{seed}-{i:06d}",
            reporting_partner=partner,
            setting=(
                ArrivalSetting.ARRIVAL_SETTING_EXTERNAL_BORDER
                if at_border
                else ArrivalSetting.ARRIVAL_SETTING_INLAND
            ),
            reason=reason,
            location="Schiphol" if at_border else "Ter Apel",
            reported_at=timestamp(now),
            claimed_identity=ClaimedIdentity(
                family_name=rng.choice(_FAMILY),
                given_names=rng.choice(_GIVEN),
                date_of_birth=CalendarDate(
                    year=now.year - age, month=rng.randint(1, 12), day=rng.randint(1, 28)
                ),
                place_of_birth="unknown",
                gender=rng.choice((Gender.GENDER_FEMALE, Gender.GENDER_MALE)),
                nationalities=[nationality],
                source_level=(
                    PilSourceLevel.PIL_SOURCE_LEVEL_OFFICIAL_IDENTIFYING_DOCUMENT
                    if has_passport
                    else PilSourceLevel.PIL_SOURCE_LEVEL_OWN_STATEMENT
                ),
            ),
            documents=(
                [
                    IdentityDocument(
                        document_type="PASSPORT",
                        document_number=f"X{rng.randrange(10**8):08d}",
                        issuing_country=nationality,
                        suspected_fraudulent=rng.random() < 0.05,
                    )
                ]
                if has_passport
                else []
            ),
            claimed_age=age,
            family_group_id=member_of or "",
            accompanied=bool(member_of) or age >= 18,
            travelling_with_children=bool(member_of) and age >= 18,
            vulnerability_indicators=[
                indicator for indicator, share in _VULNERABILITY if rng.random() < share
            ],
            needs_medical_care=rng.random() < 0.05,
            family_member_states=["DE"] if rng.random() < 0.1 else [],
            asylum_requested=asylum,
            held_hours_before_screening=rng.choice((0, 0, 0, 12, 80)) if at_border else 0,
            languages=[_LANGUAGES[nationality]],
            countries_of_residence=[nationality],
        )
        if age >= 6:
            template = f"{prefix}|{seed}|{i}".encode()
            report.biometrics.CopyFrom(
                BiometricReference(
                    template_reference=f"{prefix}-BIO-{i:06d}",
                    template_hash=hashlib.sha256(template).hexdigest(),
                    captured_at=timestamp(now),
                )
            )
        reports.append(report)
    return reports
