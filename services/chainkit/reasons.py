"""The dead-letter reason codes: the one list the services, the README and the guide use.

Every `DeadLetter.reason_code` (and `dlq_reason_code` header) is a key of REASON_CODES;
`migratieketen docs` prints the table the README and contracts/README.md carry.
"""

from __future__ import annotations

REASON_CODES: dict[str, str] = {
    "missing_header": (
        "a required header (`ce_specversion`, `ce_id`, `ce_type`, `ce_source`, "
        "`content-type`) is absent or empty; the reason names which"
    ),
    "unsupported_specversion": "`ce_specversion` is not `1.0`",
    "unexpected_type": "`ce_type` is not the type the catalogue gives the topic",
    "unsupported_content_type": "`content-type` is not `application/protobuf`",
    "unknown_topic": "the record came from a topic that is not in the catalogue",
    "undecodable": "the value is not a valid protobuf of the topic's message",
    "invalid_v_nummer": "the message's V-nummer is not exactly 10 digits",
    "no_handler": "the service reads the topic but has no handler for its message type",
    "invalid_check_request": "a check request to the Europaloket without a usable `request_id`",
    "missing_field": (
        "a required field is empty (e.g. a crisis declaration without `starts_at`); the "
        "reason names it"
    ),
    "invalid_field": (
        "a field has a value the service may not apply (e.g. a crisis threshold below 5 %); "
        "the reason names it"
    ),
    "unknown_case": (
        "the message refers to an application or crisis the service does not know; the "
        "reason names the field"
    ),
    "event_too_large": (
        "handling the record would publish an event over the chain's size limit "
        "(`chainkit.codec.MAX_EVENT_BYTES` of key, value and headers); the reason names the "
        "topic and the size"
    ),
    "processing_error": "the service's handler failed (a defect); the record is parked",
}
