"""aqistream/config.py: config.ini in the Confluent layout, and the token from .env."""

from __future__ import annotations

import re

import pytest

from aqistream.config import ConfigError, read_kafka_config, waqi_token


def test_without_a_config_file_the_broker_is_localhost(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = read_kafka_config(None)
    assert config.common == {"bootstrap.servers": "localhost:9092"}
    assert config.source == "defaults"


def test_config_ini_in_the_working_directory_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.ini").write_text(
        "[default]\nbootstrap.servers=kafka:9092\nsasl.username=Key\n"
        "[producer]\nlinger.ms=5\n[consumer]\ngroup.id=mine\n"
    )
    config = read_kafka_config(None)
    assert config.common == {"bootstrap.servers": "kafka:9092", "sasl.username": "Key"}
    assert config.producer == {"linger.ms": "5"}
    assert config.consumer == {"group.id": "mine"}
    assert config.source == "config.ini"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("bootstrap.servers=x\n", "not a valid INI file"),
        ("[default]\nbootstrap.servers\n", "not a valid INI file"),
        ("[default]\nsecurity.protocol=SASL_SSL\n", "set bootstrap.servers in [default]"),
        ("[default]\nbootstrap.servers=x\n[produce]\n", "unknown section [produce]"),
    ],
)
def test_a_broken_config_file_is_one_clear_line(tmp_path, content, message):
    path = tmp_path / "broken.ini"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")) as raised:
        read_kafka_config(str(path))
    assert str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_named_config_file_that_is_missing_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="copy config.ini.example"):
        read_kafka_config(str(tmp_path / "nope.ini"))


def test_binary_config_file_is_one_clear_line(tmp_path):
    path = tmp_path / "garbage.ini"
    path.write_bytes(b"\xff\xfe\x00garbage\x9c")
    with pytest.raises(ConfigError, match="cannot read it"):
        read_kafka_config(str(path))


def test_token_from_env_file_when_not_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("WAQI_TOKEN", raising=False)
    (tmp_path / ".env").write_text("WAQI_TOKEN=from-dotenv\n")
    assert waqi_token(str(tmp_path / ".env")) == "from-dotenv"


def test_token_in_the_environment_wins_over_env_file(tmp_path, monkeypatch):
    monkeypatch.setenv("WAQI_TOKEN", "from-environment")
    (tmp_path / ".env").write_text("WAQI_TOKEN=from-dotenv\n")
    assert waqi_token(str(tmp_path / ".env")) == "from-environment"


def test_missing_token_says_where_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("WAQI_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="aqicn.org/data-platform/token"):
        waqi_token(str(tmp_path / ".env"))


# --- [schema_registry] ---------------------------------------------------------------------


def test_without_a_schema_registry_section_the_registry_is_off(tmp_path):
    path = tmp_path / "config.ini"
    path.write_text("[default]\nbootstrap.servers=x:9092\n")
    config = read_kafka_config(str(path))
    assert config.schema_registry == {}
    assert config.secrets == []


def test_the_schema_registry_section_in_confluent_s_words(tmp_path):
    path = tmp_path / "config.ini"
    path.write_text(
        "[default]\nbootstrap.servers=x:9092\n"
        "[schema_registry]\nurl=https://psrc-00000.eu-central-1.aws.confluent.cloud\n"
        "basic.auth.user.info=SRKEY:sr/secret:with-colon\ntimeout=5\n"
    )
    config = read_kafka_config(str(path))
    assert config.schema_registry == {
        "url": "https://psrc-00000.eu-central-1.aws.confluent.cloud",
        "basic.auth.user.info": "SRKEY:sr/secret:with-colon",
        "timeout": "5",
    }
    assert config.common == {"bootstrap.servers": "x:9092"}  # librdkafka never sees it
    assert config.secrets == ["SRKEY:sr/secret:with-colon", "sr/secret:with-colon"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("", "set url in [schema_registry]"),
        ("url=\n", "set url in [schema_registry]"),
        ("url=localhost:8080\n", "must be http:// or https://"),
        ("url=http://key:secret@host:8080\n", "without credentials"),
        ("url=http://h:8080\nschema.registry.url=x\n", "unknown key schema.registry.url"),
        ("url=http://h:8080\nbasic.auth.user.info=justakey\n", "<API key>:<API secret>"),
        ("url=http://h:8080\ntimeout=soon\n", "timeout in [schema_registry] must be a number"),
        ("url=http://h:8080\ntimeout=0\n", "above 0"),
    ],
)
def test_a_broken_schema_registry_section_is_one_clear_line(tmp_path, section, message):
    path = tmp_path / "config.ini"
    path.write_text(f"[default]\nbootstrap.servers=x:9092\n[schema_registry]\n{section}")
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        read_kafka_config(str(path))
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)
    assert "key:secret" not in str(raised.value)  # the URL with credentials is not echoed
