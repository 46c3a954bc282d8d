import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from migratieketen.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_HOUSED: _ClassVar[Outcome]
    OUTCOME_DEPARTED_VOLUNTARY: _ClassVar[Outcome]
    OUTCOME_DEPARTED_FORCED: _ClassVar[Outcome]
    OUTCOME_TRANSFERRED: _ClassVar[Outcome]
    OUTCOME_ABSCONDED: _ClassVar[Outcome]
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_HOUSED: Outcome
OUTCOME_DEPARTED_VOLUNTARY: Outcome
OUTCOME_DEPARTED_FORCED: Outcome
OUTCOME_TRANSFERRED: Outcome
OUTCOME_ABSCONDED: Outcome

class CaseOutcome(_message.Message):
    __slots__ = ("v_nummer", "outcome", "decided_by", "at", "destination_member_state")
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_MEMBER_STATE_FIELD_NUMBER: _ClassVar[int]
    v_nummer: str
    outcome: Outcome
    decided_by: _common_pb2.Partner
    at: _timestamp_pb2.Timestamp
    destination_member_state: str
    def __init__(self, v_nummer: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., decided_by: _Optional[_Union[_common_pb2.Partner, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., destination_member_state: _Optional[str] = ...) -> None: ...
