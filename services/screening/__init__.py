"""Screening (Regulation 2024/1356): checks, the screening form and the referral."""
