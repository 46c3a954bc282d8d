"""The pytest plugin of `migratieketen[testing]` (entry point group pytest11).

Fixtures: `chain_broker` and `bootstrap_servers` (one broker per session),
`chain_env` (override it to plant Europaloket records or set `MK_PACT_*`), and
`running_chain` (the six services, ready). See chainctl.testing for the helpers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chainctl.testing.chain import Broker, RunningChain, chain_under_test, kafka_broker


@pytest.fixture(scope="session")
def chain_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with kafka_broker(tmp_path_factory.mktemp("broker")) as broker:
        yield broker


@pytest.fixture(scope="session")
def bootstrap_servers(chain_broker: Broker) -> str:
    return chain_broker.bootstrap_servers


@pytest.fixture(scope="session")
def chain_env() -> dict[str, str]:
    """Extra MK_* settings of every service of `running_chain`; none by default."""
    return {}


@pytest.fixture(scope="session")
def running_chain(
    chain_broker: Broker, chain_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningChain]:
    """The six services, ready, on `chain_broker`; one chain for the whole session."""
    with chain_under_test(tmp_path_factory.mktemp("chain"), chain_broker, env=chain_env) as chain:
        yield chain
