"""Raw Kafka access for tests; lives in chainctl.testing.kafka_io, re-exported here."""

from chainctl.testing.kafka_io import headers_for as headers_for
from chainctl.testing.kafka_io import publish_raw as publish_raw
from chainctl.testing.kafka_io import read_until as read_until
