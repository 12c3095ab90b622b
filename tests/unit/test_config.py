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


def test_a_detector_no_registry_holds_is_refused_with_every_name(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FACEWATCH_DETECTOR", "mtcnn")
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "unknown detector 'mtcnn': one of haar, hog, yunet, centerface" in str(refused.value)
    monkeypatch.setenv("FACEWATCH_DETECTOR", "haar")
    assert Settings(_env_file=None).detector == "haar"  # type: ignore[call-arg]
