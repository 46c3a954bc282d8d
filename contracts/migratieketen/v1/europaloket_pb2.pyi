import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from migratieketen.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckPurpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_PURPOSE_UNSPECIFIED: _ClassVar[CheckPurpose]
    CHECK_PURPOSE_SCREENING_SECURITY: _ClassVar[CheckPurpose]
    CHECK_PURPOSE_SCREENING_IDENTIFICATION: _ClassVar[CheckPurpose]
    CHECK_PURPOSE_ASYLUM_DUBLIN: _ClassVar[CheckPurpose]
    CHECK_PURPOSE_RETURN: _ClassVar[CheckPurpose]

class CheckStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_STATUS_UNSPECIFIED: _ClassVar[CheckStatus]
    CHECK_STATUS_NO_HIT: _ClassVar[CheckStatus]
    CHECK_STATUS_HIT: _ClassVar[CheckStatus]
    CHECK_STATUS_UNAVAILABLE: _ClassVar[CheckStatus]
    CHECK_STATUS_DENIED: _ClassVar[CheckStatus]
    CHECK_STATUS_NOT_APPLICABLE: _ClassVar[CheckStatus]
CHECK_PURPOSE_UNSPECIFIED: CheckPurpose
CHECK_PURPOSE_SCREENING_SECURITY: CheckPurpose
CHECK_PURPOSE_SCREENING_IDENTIFICATION: CheckPurpose
CHECK_PURPOSE_ASYLUM_DUBLIN: CheckPurpose
CHECK_PURPOSE_RETURN: CheckPurpose
CHECK_STATUS_UNSPECIFIED: CheckStatus
CHECK_STATUS_NO_HIT: CheckStatus
CHECK_STATUS_HIT: CheckStatus
CHECK_STATUS_UNAVAILABLE: CheckStatus
CHECK_STATUS_DENIED: CheckStatus
CHECK_STATUS_NOT_APPLICABLE: CheckStatus

class CheckRequest(_message.Message):
    __slots__ = ("request_id", "v_nummer", "partner", "purpose", "systems", "biometric_template_hash", "nationalities", "requested_at", "claimed_age")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SYSTEMS_FIELD_NUMBER: _ClassVar[int]
    BIOMETRIC_TEMPLATE_HASH_FIELD_NUMBER: _ClassVar[int]
    NATIONALITIES_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AGE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    v_nummer: str
    partner: _common_pb2.Partner
    purpose: CheckPurpose
    systems: _containers.RepeatedScalarFieldContainer[_common_pb2.EuSystem]
    biometric_template_hash: str
    nationalities: _containers.RepeatedScalarFieldContainer[str]
    requested_at: _timestamp_pb2.Timestamp
    claimed_age: int
    def __init__(self, request_id: _Optional[str] = ..., v_nummer: _Optional[str] = ..., partner: _Optional[_Union[_common_pb2.Partner, str]] = ..., purpose: _Optional[_Union[CheckPurpose, str]] = ..., systems: _Optional[_Iterable[_Union[_common_pb2.EuSystem, str]]] = ..., biometric_template_hash: _Optional[str] = ..., nationalities: _Optional[_Iterable[str]] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_age: _Optional[int] = ...) -> None: ...

class SystemAnswer(_message.Message):
    __slots__ = ("system", "status", "member_state", "category", "reference", "action", "security_ground", "reason")
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_STATE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    system: _common_pb2.EuSystem
    status: CheckStatus
    member_state: str
    category: str
    reference: str
    action: str
    security_ground: bool
    reason: str
    def __init__(self, system: _Optional[_Union[_common_pb2.EuSystem, str]] = ..., status: _Optional[_Union[CheckStatus, str]] = ..., member_state: _Optional[str] = ..., category: _Optional[str] = ..., reference: _Optional[str] = ..., action: _Optional[str] = ..., security_ground: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class CheckResult(_message.Message):
    __slots__ = ("request_id", "v_nummer", "partner", "purpose", "status", "answers", "completed_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    v_nummer: str
    partner: _common_pb2.Partner
    purpose: CheckPurpose
    status: CheckStatus
    answers: _containers.RepeatedCompositeFieldContainer[SystemAnswer]
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., v_nummer: _Optional[str] = ..., partner: _Optional[_Union[_common_pb2.Partner, str]] = ..., purpose: _Optional[_Union[CheckPurpose, str]] = ..., status: _Optional[_Union[CheckStatus, str]] = ..., answers: _Optional[_Iterable[_Union[SystemAnswer, _Mapping]]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
