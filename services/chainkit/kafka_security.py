"""How every Kafka client of the chain logs in: the one place that builds its arguments.

`client_args` gives the keyword arguments of aiokafka's AIOKafkaProducer,
AIOKafkaConsumer and AIOKafkaAdminClient; `broker_security` gives FastStream's
KafkaBroker `security=` object. Both come from the MK_KAFKA_* settings
(chainkit.settings.KafkaAuthSettings); the password never appears in a log or an error.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chainkit.settings import KafkaAuthSettings

if TYPE_CHECKING:  # FastStream is imported when a broker is built: the CLI starts faster
    from faststream.security import BaseSecurity


class KafkaSecurityError(ValueError):
    """The settings ask for a login but lack what it needs."""


@dataclass(frozen=True)
class Login:
    """A SASL login: mechanism, user and password (its repr leaves the password out)."""

    mechanism: str
    username: str
    password: str = field(repr=False)
    use_ssl: bool = False


def login(auth: KafkaAuthSettings, default_username: str | None = None) -> Login | None:
    """The SASL login the settings describe; None for PLAINTEXT (no authentication).

    `default_username` is the user when MK_KAFKA_USERNAME is unset (a service: its name).
    """
    if auth.kafka_security_protocol == "PLAINTEXT":
        return None
    protocol = auth.kafka_security_protocol
    username = auth.kafka_username or default_username
    if not username:
        raise KafkaSecurityError(f"MK_KAFKA_SECURITY_PROTOCOL={protocol} needs MK_KAFKA_USERNAME")
    if auth.kafka_password is None or not auth.kafka_password.get_secret_value():
        raise KafkaSecurityError(
            f"MK_KAFKA_SECURITY_PROTOCOL={protocol} needs MK_KAFKA_PASSWORD (for {username})"
        )
    return Login(
        auth.kafka_sasl_mechanism,
        username,
        auth.kafka_password.get_secret_value(),
        use_ssl=protocol == "SASL_SSL",
    )


def client_args(
    auth: KafkaAuthSettings | None = None, default_username: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for an aiokafka producer, consumer or admin client.

    Without `auth` the settings are read from the environment (the chainctl commands).
    """
    found = login(auth if auth is not None else KafkaAuthSettings(), default_username)
    if found is None:
        return {"security_protocol": "PLAINTEXT"}
    return {
        "security_protocol": "SASL_SSL" if found.use_ssl else "SASL_PLAINTEXT",
        "sasl_mechanism": found.mechanism,
        "sasl_plain_username": found.username,
        "sasl_plain_password": found.password,
        **({"ssl_context": ssl.create_default_context()} if found.use_ssl else {}),
    }


def broker_security(
    auth: KafkaAuthSettings, default_username: str | None = None
) -> BaseSecurity | None:
    """FastStream's KafkaBroker `security=` for the same login as `client_args`."""
    from faststream.security import SASLPlaintext, SASLScram256, SASLScram512

    found = login(auth, default_username)
    if found is None:
        return None
    mechanisms = {
        "PLAIN": SASLPlaintext,
        "SCRAM-SHA-256": SASLScram256,
        "SCRAM-SHA-512": SASLScram512,
    }
    return mechanisms[found.mechanism](
        found.username,
        found.password,
        ssl_context=ssl.create_default_context() if found.use_ssl else None,
    )
