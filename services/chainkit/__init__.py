"""The shared service kit: broker wiring, protobuf codec, telemetry, store, clock."""
