#!/usr/bin/env bash
# Writes the client properties of the super user `admin` (SASL/SCRAM-SHA-512) to $1, for
# kafka-*.sh --command-config: the broker's health check and the `acls` job use them.
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD (the super user admin)}"
cat > "$1" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
PROPERTIES
