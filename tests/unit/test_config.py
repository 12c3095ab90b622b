"""The one settings object: what it reads from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from facewatch.config import Settings


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_mqtt_url_is_no_broker(monkeypatch: pytest.MonkeyPatch, empty: str):
    # compose passes ${FACEWATCH_MQTT_URL:-} through as an empty value
    monkeypatch.setenv("FACEWATCH_MQTT_URL", empty)
    assert Settings(_env_file=None).mqtt_url is None  # type: ignore[call-arg]


def test_a_given_mqtt_url_is_kept_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FACEWATCH_MQTT_URL", "mqtts://fw:pw@broker.test:8883")
    url = Settings(_env_file=None).mqtt_url  # type: ignore[call-arg]
    assert url is not None and url.get_secret_value() == "mqtts://fw:pw@broker.test:8883"
    assert "pw" not in repr(url)


STRONG = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("field", ["link_secret", "webhook_token", "detect_token", "notify_token"])
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("s3cret", "6 bytes long"),
        (STRONG[:-1], "31 bytes long"),
        ("facewatch-link-dev-secret", "placeholder"),
        ("REPLACE-ME-with-openssl-rand-hex-32", "placeholder"),
        ("change-me-" + STRONG, "placeholder"),
    ],
)
def test_a_weak_or_template_secret_is_refused_without_being_printed(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str, why: str
):
    from facewatch.config import get_settings
    from facewatch.exceptions import BadSettings

    monkeypatch.setenv(f"FACEWATCH_{field.upper()}", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(BadSettings, match=f"FACEWATCH_{field.upper()}: .*{why}") as refused:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert value not in str(refused.value)


@pytest.mark.parametrize("field", ["link_secret", "webhook_token", "detect_token", "notify_token"])
def test_a_strong_secret_is_kept_and_an_empty_one_is_none(field: str):
    assert getattr(Settings(_env_file=None, **{field: STRONG}), field).get_secret_value() == STRONG  # type: ignore[arg-type]
    assert getattr(Settings(_env_file=None, **{field: ""}), field) is None  # type: ignore[arg-type]


def test_detect_tokens_are_per_household_by_default():
    assert Settings(_env_file=None).detect_token_scope == "household"  # type: ignore[call-arg]


def test_a_detector_no_registry_holds_is_refused_with_every_name(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FACEWATCH_DETECTOR", "mtcnn")
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "unknown detector 'mtcnn': one of haar, hog, yunet, centerface" in str(refused.value)
    monkeypatch.setenv("FACEWATCH_DETECTOR", "haar")
    assert Settings(_env_file=None).detector == "haar"  # type: ignore[call-arg]
