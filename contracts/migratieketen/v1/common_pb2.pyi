import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Partner(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTNER_UNSPECIFIED: _ClassVar[Partner]
    PARTNER_KMAR: _ClassVar[Partner]
    PARTNER_AVIM: _ClassVar[Partner]
    PARTNER_DISA: _ClassVar[Partner]
    PARTNER_IND: _ClassVar[Partner]
    PARTNER_COA: _ClassVar[Partner]
    PARTNER_DTENV: _ClassVar[Partner]
    PARTNER_BVV: _ClassVar[Partner]
    PARTNER_NIDOS: _ClassVar[Partner]
    PARTNER_DJI: _ClassVar[Partner]
    PARTNER_SCREENING: _ClassVar[Partner]

class ArrivalSetting(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARRIVAL_SETTING_UNSPECIFIED: _ClassVar[ArrivalSetting]
    ARRIVAL_SETTING_EXTERNAL_BORDER: _ClassVar[ArrivalSetting]
    ARRIVAL_SETTING_INLAND: _ClassVar[ArrivalSetting]

class ArrivalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ARRIVAL_REASON_UNSPECIFIED: _ClassVar[ArrivalReason]
    ARRIVAL_REASON_IRREGULAR_CROSSING: _ClassVar[ArrivalReason]
    ARRIVAL_REASON_ASYLUM_AT_BORDER_CROSSING_POINT: _ClassVar[ArrivalReason]
    ARRIVAL_REASON_SEARCH_AND_RESCUE: _ClassVar[ArrivalReason]
    ARRIVAL_REASON_ILLEGALLY_STAYING: _ClassVar[ArrivalReason]
    ARRIVAL_REASON_ASYLUM_INLAND: _ClassVar[ArrivalReason]

class Gender(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GENDER_UNSPECIFIED: _ClassVar[Gender]
    GENDER_FEMALE: _ClassVar[Gender]
    GENDER_MALE: _ClassVar[Gender]
    GENDER_X: _ClassVar[Gender]

class PilSourceLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIL_SOURCE_LEVEL_UNSPECIFIED: _ClassVar[PilSourceLevel]
    PIL_SOURCE_LEVEL_OFFICIAL_IDENTIFYING_DOCUMENT: _ClassVar[PilSourceLevel]
    PIL_SOURCE_LEVEL_OFFICIAL_NON_IDENTIFYING_DOCUMENT: _ClassVar[PilSourceLevel]
    PIL_SOURCE_LEVEL_NON_OFFICIAL_DOCUMENT: _ClassVar[PilSourceLevel]
    PIL_SOURCE_LEVEL_OWN_STATEMENT: _ClassVar[PilSourceLevel]
    PIL_SOURCE_LEVEL_THIRD_PARTY_STATEMENT: _ClassVar[PilSourceLevel]

class EuSystem(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EU_SYSTEM_UNSPECIFIED: _ClassVar[EuSystem]
    EU_SYSTEM_EURODAC: _ClassVar[EuSystem]
    EU_SYSTEM_SIS: _ClassVar[EuSystem]
    EU_SYSTEM_VIS: _ClassVar[EuSystem]
    EU_SYSTEM_EES: _ClassVar[EuSystem]
    EU_SYSTEM_ETIAS: _ClassVar[EuSystem]
    EU_SYSTEM_ECRIS_TCN: _ClassVar[EuSystem]
    EU_SYSTEM_ESP: _ClassVar[EuSystem]
    EU_SYSTEM_MID: _ClassVar[EuSystem]
PARTNER_UNSPECIFIED: Partner
PARTNER_KMAR: Partner
PARTNER_AVIM: Partner
PARTNER_DISA: Partner
PARTNER_IND: Partner
PARTNER_COA: Partner
PARTNER_DTENV: Partner
PARTNER_BVV: Partner
PARTNER_NIDOS: Partner
PARTNER_DJI: Partner
PARTNER_SCREENING: Partner
ARRIVAL_SETTING_UNSPECIFIED: ArrivalSetting
ARRIVAL_SETTING_EXTERNAL_BORDER: ArrivalSetting
ARRIVAL_SETTING_INLAND: ArrivalSetting
ARRIVAL_REASON_UNSPECIFIED: ArrivalReason
ARRIVAL_REASON_IRREGULAR_CROSSING: ArrivalReason
ARRIVAL_REASON_ASYLUM_AT_BORDER_CROSSING_POINT: ArrivalReason
ARRIVAL_REASON_SEARCH_AND_RESCUE: ArrivalReason
ARRIVAL_REASON_ILLEGALLY_STAYING: ArrivalReason
ARRIVAL_REASON_ASYLUM_INLAND: ArrivalReason
GENDER_UNSPECIFIED: Gender
GENDER_FEMALE: Gender
GENDER_MALE: Gender
GENDER_X: Gender
PIL_SOURCE_LEVEL_UNSPECIFIED: PilSourceLevel
PIL_SOURCE_LEVEL_OFFICIAL_IDENTIFYING_DOCUMENT: PilSourceLevel
PIL_SOURCE_LEVEL_OFFICIAL_NON_IDENTIFYING_DOCUMENT: PilSourceLevel
PIL_SOURCE_LEVEL_NON_OFFICIAL_DOCUMENT: PilSourceLevel
PIL_SOURCE_LEVEL_OWN_STATEMENT: PilSourceLevel
PIL_SOURCE_LEVEL_THIRD_PARTY_STATEMENT: PilSourceLevel
EU_SYSTEM_UNSPECIFIED: EuSystem
EU_SYSTEM_EURODAC: EuSystem
EU_SYSTEM_SIS: EuSystem
EU_SYSTEM_VIS: EuSystem
EU_SYSTEM_EES: EuSystem
EU_SYSTEM_ETIAS: EuSystem
EU_SYSTEM_ECRIS_TCN: EuSystem
EU_SYSTEM_ESP: EuSystem
EU_SYSTEM_MID: EuSystem

class CalendarDate(_message.Message):
    __slots__ = ("year", "month", "day")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    year: int
    month: int
    day: int
    def __init__(self, year: _Optional[int] = ..., month: _Optional[int] = ..., day: _Optional[int] = ...) -> None: ...

class ClaimedIdentity(_message.Message):
    __slots__ = ("family_name", "given_names", "date_of_birth", "place_of_birth", "gender", "nationalities", "stateless", "source_level")
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAMES_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    PLACE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    NATIONALITIES_FIELD_NUMBER: _ClassVar[int]
    STATELESS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    family_name: str
    given_names: str
    date_of_birth: CalendarDate
    place_of_birth: str
    gender: Gender
    nationalities: _containers.RepeatedScalarFieldContainer[str]
    stateless: bool
    source_level: PilSourceLevel
    def __init__(self, family_name: _Optional[str] = ..., given_names: _Optional[str] = ..., date_of_birth: _Optional[_Union[CalendarDate, _Mapping]] = ..., place_of_birth: _Optional[str] = ..., gender: _Optional[_Union[Gender, str]] = ..., nationalities: _Optional[_Iterable[str]] = ..., stateless: _Optional[bool] = ..., source_level: _Optional[_Union[PilSourceLevel, str]] = ...) -> None: ...

class IdentityDocument(_message.Message):
    __slots__ = ("document_type", "document_number", "issuing_country", "expiry_date")
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ISSUING_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    document_type: str
    document_number: str
    issuing_country: str
    expiry_date: CalendarDate
    def __init__(self, document_type: _Optional[str] = ..., document_number: _Optional[str] = ..., issuing_country: _Optional[str] = ..., expiry_date: _Optional[_Union[CalendarDate, _Mapping]] = ...) -> None: ...

class BiometricReference(_message.Message):
    __slots__ = ("template_reference", "template_hash", "captured_at")
    TEMPLATE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_HASH_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    template_reference: str
    template_hash: str
    captured_at: _timestamp_pb2.Timestamp
    def __init__(self, template_reference: _Optional[str] = ..., template_hash: _Optional[str] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
