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

class Referral(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFERRAL_UNSPECIFIED: _ClassVar[Referral]
    REFERRAL_ASYLUM: _ClassVar[Referral]
    REFERRAL_RETURN: _ClassVar[Referral]
    REFERRAL_RELOCATION: _ClassVar[Referral]

class HealthResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_RESULT_UNSPECIFIED: _ClassVar[HealthResult]
    HEALTH_RESULT_NO_IMMEDIATE_NEEDS: _ClassVar[HealthResult]
    HEALTH_RESULT_NEEDS_CARE: _ClassVar[HealthResult]
    HEALTH_RESULT_NOT_DONE: _ClassVar[HealthResult]
REFERRAL_UNSPECIFIED: Referral
REFERRAL_ASYLUM: Referral
REFERRAL_RETURN: Referral
REFERRAL_RELOCATION: Referral
HEALTH_RESULT_UNSPECIFIED: HealthResult
HEALTH_RESULT_NO_IMMEDIATE_NEEDS: HealthResult
HEALTH_RESULT_NEEDS_CARE: HealthResult
HEALTH_RESULT_NOT_DONE: HealthResult

class ScreeningForm(_message.Message):
    __slots__ = ("family_name", "given_names", "date_of_birth", "place_of_birth", "gender", "nationalities", "stateless", "countries_of_residence", "languages", "reason_for_screening", "health", "vulnerable", "special_needs", "asylum_applied", "family_member_states", "database_hit", "cooperated")
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAMES_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    PLACE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    NATIONALITIES_FIELD_NUMBER: _ClassVar[int]
    STATELESS_FIELD_NUMBER: _ClassVar[int]
    COUNTRIES_OF_RESIDENCE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    REASON_FOR_SCREENING_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    VULNERABLE_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_NEEDS_FIELD_NUMBER: _ClassVar[int]
    ASYLUM_APPLIED_FIELD_NUMBER: _ClassVar[int]
    FAMILY_MEMBER_STATES_FIELD_NUMBER: _ClassVar[int]
    DATABASE_HIT_FIELD_NUMBER: _ClassVar[int]
    COOPERATED_FIELD_NUMBER: _ClassVar[int]
    family_name: str
    given_names: str
    date_of_birth: _common_pb2.CalendarDate
    place_of_birth: str
    gender: _common_pb2.Gender
    nationalities: _containers.RepeatedScalarFieldContainer[str]
    stateless: bool
    countries_of_residence: _containers.RepeatedScalarFieldContainer[str]
    languages: _containers.RepeatedScalarFieldContainer[str]
    reason_for_screening: _common_pb2.ArrivalReason
    health: HealthResult
    vulnerable: bool
    special_needs: _containers.RepeatedScalarFieldContainer[str]
    asylum_applied: bool
    family_member_states: _containers.RepeatedScalarFieldContainer[str]
    database_hit: bool
    cooperated: bool
    def __init__(self, family_name: _Optional[str] = ..., given_names: _Optional[str] = ..., date_of_birth: _Optional[_Union[_common_pb2.CalendarDate, _Mapping]] = ..., place_of_birth: _Optional[str] = ..., gender: _Optional[_Union[_common_pb2.Gender, str]] = ..., nationalities: _Optional[_Iterable[str]] = ..., stateless: _Optional[bool] = ..., countries_of_residence: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., reason_for_screening: _Optional[_Union[_common_pb2.ArrivalReason, str]] = ..., health: _Optional[_Union[HealthResult, str]] = ..., vulnerable: _Optional[bool] = ..., special_needs: _Optional[_Iterable[str]] = ..., asylum_applied: _Optional[bool] = ..., family_member_states: _Optional[_Iterable[str]] = ..., database_hit: _Optional[bool] = ..., cooperated: _Optional[bool] = ...) -> None: ...

class ReferralIndicators(_message.Message):
    __slots__ = ("eurodac_hit", "eurodac_member_state", "security_flag", "misleading_identity", "unaccompanied_minor", "family_with_children", "checks_not_done")
    EURODAC_HIT_FIELD_NUMBER: _ClassVar[int]
    EURODAC_MEMBER_STATE_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FLAG_FIELD_NUMBER: _ClassVar[int]
    MISLEADING_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    UNACCOMPANIED_MINOR_FIELD_NUMBER: _ClassVar[int]
    FAMILY_WITH_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    CHECKS_NOT_DONE_FIELD_NUMBER: _ClassVar[int]
    eurodac_hit: bool
    eurodac_member_state: str
    security_flag: bool
    misleading_identity: bool
    unaccompanied_minor: bool
    family_with_children: bool
    checks_not_done: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, eurodac_hit: _Optional[bool] = ..., eurodac_member_state: _Optional[str] = ..., security_flag: _Optional[bool] = ..., misleading_identity: _Optional[bool] = ..., unaccompanied_minor: _Optional[bool] = ..., family_with_children: _Optional[bool] = ..., checks_not_done: _Optional[_Iterable[str]] = ...) -> None: ...

class ScreeningCompleted(_message.Message):
    __slots__ = ("v_nummer", "setting", "form", "referral", "indicators", "started_at", "completed_at", "claimed_age")
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    SETTING_FIELD_NUMBER: _ClassVar[int]
    FORM_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_FIELD_NUMBER: _ClassVar[int]
    INDICATORS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AGE_FIELD_NUMBER: _ClassVar[int]
    v_nummer: str
    setting: _common_pb2.ArrivalSetting
    form: ScreeningForm
    referral: Referral
    indicators: ReferralIndicators
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    claimed_age: int
    def __init__(self, v_nummer: _Optional[str] = ..., setting: _Optional[_Union[_common_pb2.ArrivalSetting, str]] = ..., form: _Optional[_Union[ScreeningForm, _Mapping]] = ..., referral: _Optional[_Union[Referral, str]] = ..., indicators: _Optional[_Union[ReferralIndicators, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_age: _Optional[int] = ...) -> None: ...
