import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from migratieketen.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ArrivalReport(_message.Message):
    __slots__ = ("partner_reference", "reporting_partner", "setting", "reason", "location", "reported_at", "claimed_identity", "documents", "biometrics", "claimed_age", "family_group_id", "accompanied", "asylum_requested", "held_hours_before_screening", "languages", "countries_of_residence")
    PARTNER_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REPORTING_PARTNER_FIELD_NUMBER: _ClassVar[int]
    SETTING_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    REPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    BIOMETRICS_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AGE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOMPANIED_FIELD_NUMBER: _ClassVar[int]
    ASYLUM_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    HELD_HOURS_BEFORE_SCREENING_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    COUNTRIES_OF_RESIDENCE_FIELD_NUMBER: _ClassVar[int]
    partner_reference: str
    reporting_partner: _common_pb2.Partner
    setting: _common_pb2.ArrivalSetting
    reason: _common_pb2.ArrivalReason
    location: str
    reported_at: _timestamp_pb2.Timestamp
    claimed_identity: _common_pb2.ClaimedIdentity
    documents: _containers.RepeatedCompositeFieldContainer[_common_pb2.IdentityDocument]
    biometrics: _common_pb2.BiometricReference
    claimed_age: int
    family_group_id: str
    accompanied: bool
    asylum_requested: bool
    held_hours_before_screening: int
    languages: _containers.RepeatedScalarFieldContainer[str]
    countries_of_residence: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, partner_reference: _Optional[str] = ..., reporting_partner: _Optional[_Union[_common_pb2.Partner, str]] = ..., setting: _Optional[_Union[_common_pb2.ArrivalSetting, str]] = ..., reason: _Optional[_Union[_common_pb2.ArrivalReason, str]] = ..., location: _Optional[str] = ..., reported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_identity: _Optional[_Union[_common_pb2.ClaimedIdentity, _Mapping]] = ..., documents: _Optional[_Iterable[_Union[_common_pb2.IdentityDocument, _Mapping]]] = ..., biometrics: _Optional[_Union[_common_pb2.BiometricReference, _Mapping]] = ..., claimed_age: _Optional[int] = ..., family_group_id: _Optional[str] = ..., accompanied: _Optional[bool] = ..., asylum_requested: _Optional[bool] = ..., held_hours_before_screening: _Optional[int] = ..., languages: _Optional[_Iterable[str]] = ..., countries_of_residence: _Optional[_Iterable[str]] = ...) -> None: ...
