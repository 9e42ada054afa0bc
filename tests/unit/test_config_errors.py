"""Config errors name the dotted key path so an operator knows exactly what to fix; the
CLI turns them into a non-zero exit with the key on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from consentry import config as config_mod
from consentry.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = Path(sys.executable).with_name("consentry")  # the installed console script
CONSENTRY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "consentry.cli"]


def error_for(data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        config_mod.from_mapping(data)
    return ei.value


@pytest.mark.parametrize("data,key", [
    ({"submision": {}}, "submision"),
    ({"submission": {"max_recipientz": 5}}, "submission.max_recipientz"),
    ({"redis": {"deadline": 5}}, "redis.deadline"),
    ({"classification": {"rules": [{"class": "service", "mail_from": "*", "hdr": "x"}]}},
     "classification.rules[0].hdr"),
    ({"classification": {"rules": [{"class": "service", "header": "X"},
                                   {"class": "service", "klass": "x", "header": "Y"}]}},
     "classification.rules[1].klass"),
])
def test_unknown_key_error_names_the_dotted_path(data: Any, key: str) -> None:
    err = error_for(data)
    assert err.key == key
    assert key in str(err)
    assert "unknown key" in str(err)


@pytest.mark.parametrize("data,key,words", [
    ({"submission": {"max_recipients": "ten"}}, "submission.max_recipients", "integer"),
    ({"submission": {"max_recipients": True}}, "submission.max_recipients", "integer"),
    ({"submission": {"command_timeout": "5s"}}, "submission.command_timeout", "number"),
    ({"submission": {"smtputf8": "yes"}}, "submission.smtputf8", "true or false"),
    ({"redis": {"auto_pipeline": "on"}}, "redis.auto_pipeline", "true or false"),
    ({"submission": {"listen": "127.0.0.1:25"}}, "submission.listen", "list"),
    ({"submission": {"listen": [25]}}, "submission.listen[0]", "string"),
    ({"submission": {"bare_newlines": "allow"}}, "submission.bare_newlines", "one of"),
    ({"redis": {"canary": "maybe"}}, "redis.canary", "one of"),
    ({"server": "consentry.example"}, "server", "mapping"),
    ({"classification": {"rules": {"class": "service"}}}, "classification.rules", "list"),
    ({"classification": {"rules": [{"class": "spam", "header": "X"}]}},
     "classification.rules[0].class", "one of"),
])
def test_wrong_type_error_names_the_key(data: Any, key: str, words: str) -> None:
    err = error_for(data)
    assert err.key == key
    assert words in err.message


@pytest.mark.parametrize("data,key", [
    ({"submission": {"max_recipients": 0}}, "submission.max_recipients"),
    ({"submission": {"max_connections_per_ip": -1}}, "submission.max_connections_per_ip"),
    ({"submission": {"line_length_limit": 512}}, "submission.line_length_limit"),
    ({"submission": {"listen": ["localhost"]}}, "submission.listen[0]"),
    ({"submission": {"listen": ["127.0.0.1:99999"]}}, "submission.listen[0]"),
    ({"submission": {"client_networks": ["127.0.0.0/8", "300.1.0.0/16"]}},
     "submission.client_networks[1]"),
    ({"submission": {"data_timeout": 100}, "downstream": {"data_timeout": 300}},
     "submission.data_timeout"),
    ({"classification": {"rules": [{"class": "service"}]}}, "classification.rules[0]"),
    ({"classification": {"rules": [{"mail_from": "*"}]}}, "classification.rules[0].class"),
    ({"classification": {"rules": [{"class": "service", "header": "X", "matches": "(("}]}},
     "classification.rules[0].matches"),
    ({"redis": {"key_prefix": "cs:*"}}, "redis.key_prefix"),
    ({"redis": {"embedded": False, "url": "http://x"}}, "redis.url"),
])
def test_bad_value_error_names_the_key(data: Any, key: str) -> None:
    assert error_for(data).key == key


def test_root_must_be_a_mapping() -> None:
    assert error_for(["a"]).key == "<root>"


def test_empty_file_and_null_sections_are_the_defaults(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("submission:\nredis:\n")
    cfg = config_mod.load(p)
    assert cfg.submission.max_recipients == 500
    assert cfg.base_dir == str(tmp_path.resolve())


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("submission: [unclosed\n")
    with pytest.raises(ConfigError) as ei:
        config_mod.load(p)
    assert ei.value.key == "<file>"
    with pytest.raises(ConfigError) as ei:
        config_mod.load(tmp_path / "nope.yaml")
    assert "cannot read" in ei.value.message


def test_shipped_example_config_is_valid() -> None:
    cfg = config_mod.load(ROOT / "config.example.yaml")
    assert cfg.classification.default == "marketing"
    assert cfg.submission.bare_newlines == "reject"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CONSENTRY, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_with_bad_config_exits_non_zero_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("submission:\n  max_recipients: lots\n")
    r = _cli("-c", str(bad), "check", "x@y.example", cwd=tmp_path)
    assert r.returncode != 0
    assert "submission.max_recipients" in r.stderr
    assert "Traceback" not in r.stderr
    bad.write_text("redis:\n  embeded: true\n")
    r = _cli("-c", str(bad), "check", "x@y.example", cwd=tmp_path)
    assert r.returncode != 0
    assert "redis.embeded" in r.stderr
    r = _cli("-c", str(tmp_path / "missing.yaml"), "check", "x@y.example", cwd=tmp_path)
    assert r.returncode != 0
    assert "missing.yaml" in r.stderr
    # nothing was started on the way to the error
    assert not (tmp_path / "var").exists()
