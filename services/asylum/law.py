"""The IND's legal periods, in the unit the law states them in (Regulation 1182/71)."""

from __future__ import annotations

from asylum.periods import Period

# APR (Regulation 2024/1348)
REGISTRATION = Period(5, "days")  # Art. 27(1)
REGISTRATION_CRISIS = Period(4, "weeks")  # Crisis Regulation 2024/1359 Art. 10
LODGING = Period(21, "days")  # Art. 28(1)
BORDER = Period(12, "weeks")  # Art. 51(2): from registration, appeal included
BORDER_CRISIS_EXTRA = Period(6, "weeks")  # Crisis Regulation Art. 11
ACCELERATED = Period(3, "months")  # Art. 35(3)
REGULAR = Period(6, "months")  # Art. 35(3)
INADMISSIBLE = Period(2, "months")  # Art. 35(3)
# Old national regime (Vw 2000, applications made before 12 June 2026)
OLD_BORDER = Period(9, "weeks")
OLD_REGULAR = Period(6, "months")
# AMMR (Regulation 2024/1351)
TAKE_BACK_NOTIFICATION = Period(2, "weeks")  # Art. 41(1): after the Eurodac hit
TAKE_BACK_CONFIRMATION = Period(2, "weeks")  # Art. 41(2): silence confirms
TAKE_CHARGE_REQUEST = Period(2, "months")  # Art. 39(1): from registration
TAKE_CHARGE_REQUEST_AFTER_HIT = Period(1, "months")  # Art. 39(1): after a Eurodac/VIS hit
TAKE_CHARGE_REPLY = Period(1, "months")  # Art. 40(1); silence accepts, Art. 40(2)
TAKE_CHARGE_REPLY_AFTER_HIT = Period(2, "weeks")  # Art. 40(1)
TRANSFER_DECISION = Period(2, "weeks")  # Art. 42(1)
TRANSFER = Period(6, "months")  # Art. 46(1): from acceptance or confirmation
TRANSFER_APPEAL = Period(1, "weeks")  # Art. 43(2)
TRANSFER_APPEAL_RULING = Period(1, "months")  # Art. 43(3)
