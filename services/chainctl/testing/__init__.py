"""The migratieketen test harness, for this repository's e2e and for test teams elsewhere.

`pip install 'migratieketen[testing]'` and pytest loads the plugin
(chainctl.testing.plugin): the `running_chain` fixture starts the whole chain. The
helpers below drive cases through it and check what came out.
"""

from chainctl.arrivals import make_arrivals
from chainctl.testing.chain import (
    Broker,
    ContainerChain,
    RunningChain,
    chain_under_test,
    docker_available,
    kafka_broker,
)
from chainctl.testing.kafka_io import headers_for, publish_raw, read_until
from chainctl.testing.scenario import (
    arrival,
    check_case_trace,
    drive,
    europaloket_records,
    expected_services,
    fingerprint,
    send,
    wait_for_traces,
)
from chainctl.watch import CaseBook

__all__ = [
    "Broker",
    "CaseBook",
    "ContainerChain",
    "RunningChain",
    "arrival",
    "chain_under_test",
    "check_case_trace",
    "docker_available",
    "drive",
    "europaloket_records",
    "expected_services",
    "fingerprint",
    "headers_for",
    "kafka_broker",
    "make_arrivals",
    "publish_raw",
    "read_until",
    "send",
    "wait_for_traces",
]
