import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AsylumProcedure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASYLUM_PROCEDURE_UNSPECIFIED: _ClassVar[AsylumProcedure]
    ASYLUM_PROCEDURE_BORDER: _ClassVar[AsylumProcedure]
    ASYLUM_PROCEDURE_ACCELERATED: _ClassVar[AsylumProcedure]
    ASYLUM_PROCEDURE_REGULAR: _ClassVar[AsylumProcedure]
    ASYLUM_PROCEDURE_DUBLIN: _ClassVar[AsylumProcedure]

class DecisionOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_OUTCOME_UNSPECIFIED: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_GRANTED_REFUGEE: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_GRANTED_SUBSIDIARY: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_REJECTED_UNFOUNDED: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_INADMISSIBLE: _ClassVar[DecisionOutcome]
    DECISION_OUTCOME_DUBLIN_TRANSFER: _ClassVar[DecisionOutcome]
ASYLUM_PROCEDURE_UNSPECIFIED: AsylumProcedure
ASYLUM_PROCEDURE_BORDER: AsylumProcedure
ASYLUM_PROCEDURE_ACCELERATED: AsylumProcedure
ASYLUM_PROCEDURE_REGULAR: AsylumProcedure
ASYLUM_PROCEDURE_DUBLIN: AsylumProcedure
DECISION_OUTCOME_UNSPECIFIED: DecisionOutcome
DECISION_OUTCOME_GRANTED_REFUGEE: DecisionOutcome
DECISION_OUTCOME_GRANTED_SUBSIDIARY: DecisionOutcome
DECISION_OUTCOME_REJECTED_UNFOUNDED: DecisionOutcome
DECISION_OUTCOME_REJECTED_MANIFESTLY_UNFOUNDED: DecisionOutcome
DECISION_OUTCOME_INADMISSIBLE: DecisionOutcome
DECISION_OUTCOME_DUBLIN_TRANSFER: DecisionOutcome

class AsylumApplicationRegistered(_message.Message):
    __slots__ = ("v_nummer", "application_id", "procedure", "registered_at", "decision_due_at", "minor", "family_with_children")
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_DUE_AT_FIELD_NUMBER: _ClassVar[int]
    MINOR_FIELD_NUMBER: _ClassVar[int]
    FAMILY_WITH_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    v_nummer: str
    application_id: str
    procedure: AsylumProcedure
    registered_at: _timestamp_pb2.Timestamp
    decision_due_at: _timestamp_pb2.Timestamp
    minor: bool
    family_with_children: bool
    def __init__(self, v_nummer: _Optional[str] = ..., application_id: _Optional[str] = ..., procedure: _Optional[_Union[AsylumProcedure, str]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., minor: _Optional[bool] = ..., family_with_children: _Optional[bool] = ...) -> None: ...

class AsylumDecision(_message.Message):
    __slots__ = ("v_nummer", "application_id", "procedure", "outcome", "return_decision", "departure_period_days", "responsible_member_state", "decided_at")
    V_NUMMER_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RETURN_DECISION_FIELD_NUMBER: _ClassVar[int]
    DEPARTURE_PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    RESPONSIBLE_MEMBER_STATE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    v_nummer: str
    application_id: str
    procedure: AsylumProcedure
    outcome: DecisionOutcome
    return_decision: bool
    departure_period_days: int
    responsible_member_state: str
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, v_nummer: _Optional[str] = ..., application_id: _Optional[str] = ..., procedure: _Optional[_Union[AsylumProcedure, str]] = ..., outcome: _Optional[_Union[DecisionOutcome, str]] = ..., return_decision: _Optional[bool] = ..., departure_period_days: _Optional[int] = ..., responsible_member_state: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
