"""The chain under test comes from the package's pytest plugin (chainctl.testing.plugin,
loaded through the pytest11 entry point of the installed package): `running_chain`,
`bootstrap_servers`, `chain_broker`, `chain_env`. The names the tests import from
here are re-exported."""

from chainctl.testing.chain import SECONDS_PER_DAY as SECONDS_PER_DAY
from chainctl.testing.chain import RunningChain as RunningChain
from chainctl.testing.chain import docker_available as docker_available
