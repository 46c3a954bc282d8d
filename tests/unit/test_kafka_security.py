"""The Kafka client login arguments: one place builds them for aiokafka and FastStream."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka.security import parse_security
from faststream.security import SASLPlaintext, SASLScram256, SASLScram512

from chainctl.chain import Chain, ChainError
from chainctl.cli import main
from chainkit.kafka_security import KafkaSecurityError, broker_security, client_args, login
from chainkit.settings import KafkaAuthSettings, Settings

ENV = (
    "MK_KAFKA_SECURITY_PROTOCOL",
    "MK_KAFKA_SASL_MECHANISM",
    "MK_KAFKA_USERNAME",
    "MK_KAFKA_PASSWORD",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def _auth(**values: str) -> KafkaAuthSettings:
    return KafkaAuthSettings.model_validate(values)


def test_plaintext_is_the_default_and_sends_no_credentials() -> None:
    auth = KafkaAuthSettings()
    assert login(auth, "bvv") is None
    assert client_args(auth, "bvv") == {"security_protocol": "PLAINTEXT"}
    assert broker_security(auth, "bvv") is None


@pytest.mark.parametrize(
    ("mechanism", "kind"),
    [("SCRAM-SHA-512", SASLScram512), ("SCRAM-SHA-256", SASLScram256), ("PLAIN", SASLPlaintext)],
)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_logs_in_with_the_mechanism_and_protocol(
    protocol: str, mechanism: str, kind: type
) -> None:
    auth = _auth(
        kafka_security_protocol=protocol, kafka_sasl_mechanism=mechanism, kafka_password="pw"
    )
    args = client_args(auth, "bvv")
    assert args["security_protocol"] == protocol
    assert args["sasl_mechanism"] == mechanism
    assert (args["sasl_plain_username"], args["sasl_plain_password"]) == ("bvv", "pw")
    assert isinstance(args.get("ssl_context"), ssl.SSLContext) == (protocol == "SASL_SSL")
    security = broker_security(auth, "bvv")
    assert isinstance(security, kind)
    # FastStream turns it into the same aiokafka arguments.
    parsed = parse_security(security)
    assert parsed["security_protocol"] == protocol
    assert parsed["sasl_mechanism"] == mechanism
    assert (parsed["sasl_plain_username"], parsed["sasl_plain_password"]) == ("bvv", "pw")


def test_the_default_mechanism_is_scram_sha_512() -> None:
    args = client_args(_auth(kafka_security_protocol="SASL_PLAINTEXT", kafka_password="pw"), "x")
    assert args["sasl_mechanism"] == "SCRAM-SHA-512"


def test_aiokafka_accepts_the_arguments() -> None:
    auth = _auth(kafka_security_protocol="SASL_PLAINTEXT", kafka_password="pw")

    async def build() -> None:
        args = client_args(auth, "bvv")
        producer = AIOKafkaProducer(bootstrap_servers="kafka:9092", **args)
        consumer = AIOKafkaConsumer(bootstrap_servers="kafka:9092", **args)
        admin = AIOKafkaAdminClient(bootstrap_servers="kafka:9092", **args)
        for client in (producer.client, consumer._client, admin._client):
            assert client._sasl_mechanism == "SCRAM-SHA-512"
            assert client._security_protocol == "SASL_PLAINTEXT"
        await consumer.stop()

    asyncio.run(build())


def test_a_service_logs_in_as_its_own_name_unless_told_otherwise() -> None:
    auth = _auth(kafka_security_protocol="SASL_PLAINTEXT", kafka_password="pw")
    assert client_args(auth, "asylum")["sasl_plain_username"] == "asylum"
    named = _auth(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_password="pw", kafka_username="kmar"
    )
    assert client_args(named, "asylum")["sasl_plain_username"] == "kmar"


def test_a_missing_password_is_a_clear_error_naming_the_setting() -> None:
    auth = _auth(kafka_security_protocol="SASL_PLAINTEXT")
    with pytest.raises(KafkaSecurityError, match=r"needs MK_KAFKA_PASSWORD \(for bvv\)"):
        client_args(auth, "bvv")
    with pytest.raises(KafkaSecurityError, match="MK_KAFKA_PASSWORD"):
        broker_security(_auth(kafka_security_protocol="SASL_SSL", kafka_password=""), "bvv")


def test_a_missing_user_is_a_clear_error_naming_the_setting() -> None:
    auth = _auth(kafka_security_protocol="SASL_PLAINTEXT", kafka_password="pw")
    with pytest.raises(KafkaSecurityError, match="needs MK_KAFKA_USERNAME"):
        client_args(auth)


def test_an_unknown_protocol_or_mechanism_is_refused() -> None:
    with pytest.raises(ValueError, match="kafka_security_protocol"):
        _auth(kafka_security_protocol="SSL_PLAINTEXT")
    with pytest.raises(ValueError, match="kafka_sasl_mechanism"):
        _auth(kafka_sasl_mechanism="GSSAPI")


def test_the_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MK_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("MK_KAFKA_PASSWORD", "s3cret-value")
    settings = Settings()
    found = login(settings, "bvv")
    assert found is not None and found.password == "s3cret-value"
    for shown in (repr(settings), str(settings), repr(found), str(settings.model_dump())):
        assert "s3cret-value" not in shown


def test_the_commands_read_the_login_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MK_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("MK_KAFKA_USERNAME", "kmar")
    monkeypatch.setenv("MK_KAFKA_PASSWORD", "pw")
    assert client_args()["sasl_plain_username"] == "kmar"


def test_run_gives_each_service_its_own_principal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MK_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("MK_KAFKA_USERNAME", "admin")
    monkeypatch.setenv("MK_PASSWORD_BVV", "bvv-pw")
    monkeypatch.delenv("MK_PASSWORD_ASYLUM", raising=False)
    chain = Chain("kafka:9092", tmp_path)
    assert chain.login_env("bvv") == {"MK_KAFKA_USERNAME": "bvv", "MK_KAFKA_PASSWORD": "bvv-pw"}
    with pytest.raises(ChainError, match="MK_PASSWORD_ASYLUM is not set"):
        chain.login_env("asylum")
    monkeypatch.setenv("MK_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    assert Chain("kafka:9092", tmp_path).login_env("asylum") == {}


def test_a_command_without_a_login_says_which_setting_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MK_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("MK_KAFKA_PASSWORD", "pw")
    argv = ["feed", "--bootstrap-servers", "127.0.0.1:1", "--cases", "1"]
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    assert "MK_KAFKA_USERNAME" in capsys.readouterr().out
