#!/usr/bin/env bash
# Starts Kafka from infra/kafka/server.properties with SASL and the super user `admin`.
# The image's own launch script cannot add a SCRAM credential, and with
# allow.everyone.if.no.acl.found=false nobody could create one afterwards: so the storage
# is formatted here with `--add-scram` before the first start (ignored once formatted).
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD (the super user admin)}"
: "${CLUSTER_ID:?set CLUSTER_ID (kafka-storage.sh random-uuid)}"
here="$(dirname "$0")"
work="${MK_KAFKA_WORK:-/tmp/mk-kafka}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
mkdir -p "$work"
scram="org.apache.kafka.common.security.scram.ScramLoginModule required"
plain="org.apache.kafka.common.security.plain.PlainLoginModule required"
{
  cat "$here/server.properties"
  echo "listener.name.internal.scram-sha-512.sasl.jaas.config=$scram username=\"admin\" password=\"$KAFKA_ADMIN_PASSWORD\";"
  echo "listener.name.host.scram-sha-512.sasl.jaas.config=$scram;"
  echo "listener.name.controller.plain.sasl.jaas.config=$plain username=\"admin\" password=\"$KAFKA_ADMIN_PASSWORD\" user_admin=\"$KAFKA_ADMIN_PASSWORD\";"
} > "$work/server.properties"
bash "$here/admin-properties.sh" "$work/admin.properties"
"$KAFKA_BIN/kafka-storage.sh" format --ignore-formatted --cluster-id "$CLUSTER_ID" \
  --config "$work/server.properties" \
  --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
exec "$KAFKA_BIN/kafka-server-start.sh" "$work/server.properties"
