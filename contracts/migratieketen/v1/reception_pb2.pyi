import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LocationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOCATION_TYPE_UNSPECIFIED: _ClassVar[LocationType]
    LOCATION_TYPE_CENTRAL_RECEPTION: _ClassVar[LocationType]
    LOCATION_TYPE_PROCESS_RECEPTION: _ClassVar[LocationType]
    LOCATION_TYPE_REGULAR_CENTRE: _ClassVar[LocationType]
    LOCATION_TYPE_UAM_LOCATION: _ClassVar[LocationType]
    LOCATION_TYPE_FAST_TRACK: _ClassVar[LocationType]
    LOCATION_TYPE_CLOSED_FAMILY_FACILITY: _ClassVar[LocationType]
    LOCATION_TYPE_BORDER_DETENTION: _ClassVar[LocationType]

class ReceptionEndReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECEPTION_END_REASON_UNSPECIFIED: _ClassVar[ReceptionEndReason]
    RECEPTION_END_REASON_HOUSED_IN_MUNICIPALITY: _ClassVar[ReceptionEndReason]
    RECEPTION_END_REASON_DEPARTED: _ClassVar[ReceptionEndReason]
    RECEPTION_END_REASON_TRANSFERRED: _ClassVar[ReceptionEndReason]
    RECEPTION_END_REASON_ABSCONDED: _ClassVar[ReceptionEndReason]
    RECEPTION_END_REASON_DEPARTURE_PERIOD_ENDED: _ClassVar[ReceptionEndReason]
LOCATION_TYPE_UNSPECIFIED: LocationType
LOCATION_TYPE_CENTRAL_RECEPTION: LocationType
LOCATION_TYPE_PROCESS_RECEPTION: LocationType
LOCATION_TYPE_REGULAR_CENTRE: LocationType
LOCATION_TYPE_UAM_LOCATION: LocationType
LOCATION_TYPE_FAST_TRACK: LocationType
LOCATION_TYPE_CLOSED_FAMILY_FACILITY: LocationType
LOCATION_TYPE_BORDER_DETENTION: LocationType
RECEPTION_END_REASON_UNSPECIFIED: ReceptionEndReason
RECEPTION_END_REASON_HOUSED_IN_MUNICIPALITY: ReceptionEndReason
RECEPTION_END_REASON_DEPARTED: ReceptionEndReason
RECEPTION_END_REASON_TRANSFERRED: ReceptionEndReason
RECEPTION_END_REASON_ABSCONDED: ReceptionEndReason
RECEPTION_END_REASON_DEPARTURE_PERIOD_ENDED: ReceptionEndReason

class ReceptionPlacement(_message.Message):
    __slots__ = ("v_nummer", "location_type", "location", "placed_at", "reporting_interval_days")
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    LOCATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    PLACED_AT_FIELD_NUMBER: _ClassVar[int]
    REPORTING_INTERVAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    v_nummer: str
    location_type: LocationType
    location: str
    placed_at: _timestamp_pb2.Timestamp
    reporting_interval_days: int
    def __init__(self, v_nummer: _Optional[str] = ..., location_type: _Optional[_Union[LocationType, str]] = ..., location: _Optional[str] = ..., placed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reporting_interval_days: _Optional[int] = ...) -> None: ...

class ReceptionEnded(_message.Message):
    __slots__ = ("v_nummer", "reason", "ended_at")
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    v_nummer: str
    reason: ReceptionEndReason
    ended_at: _timestamp_pb2.Timestamp
    def __init__(self, v_nummer: _Optional[str] = ..., reason: _Optional[_Union[ReceptionEndReason, str]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
