import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from migratieketen.v1 import arrival_pb2 as _arrival_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PersonRegistered(_message.Message):
    __slots__ = ("v_nummer", "identified_existing", "registered_at", "arrival")
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIED_EXISTING_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_FIELD_NUMBER: _ClassVar[int]
    v_nummer: str
    identified_existing: bool
    registered_at: _timestamp_pb2.Timestamp
    arrival: _arrival_pb2.ArrivalReport
    def __init__(self, v_nummer: _Optional[str] = ..., identified_existing: _Optional[bool] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., arrival: _Optional[_Union[_arrival_pb2.ArrivalReport, _Mapping]] = ...) -> None: ...
