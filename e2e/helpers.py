"""What the end-to-end tests share; it lives in the package (chainctl.testing) so test
teams elsewhere have it too, and is re-exported here under the names the tests import."""

from chainctl.testing.kafka_io import headers_for as headers_for
from chainctl.testing.kafka_io import publish_raw as publish_raw
from chainctl.testing.kafka_io import read_until as read_until
from chainctl.testing.scenario import arrival as arrival
from chainctl.testing.scenario import check_case_trace as check_case_trace
from chainctl.testing.scenario import drive as drive
from chainctl.testing.scenario import europaloket_records as europaloket_records
from chainctl.testing.scenario import expected_services as expected_services
from chainctl.testing.scenario import fingerprint as fingerprint
from chainctl.testing.scenario import send as send
from chainctl.testing.scenario import wait_for_traces as wait_for_traces
