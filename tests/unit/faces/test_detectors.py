"""The one list of detectors: what the settings, the agent's --detector and recognize read
is what the factory makes."""

from __future__ import annotations

import pytest

from facewatch.config import Settings
from facewatch.exceptions import ModelsUnavailable
from facewatch.faces.detectors import CNN_DETECTORS, DETECTOR_NAMES, DETECTORS, make_detector


@pytest.mark.parametrize("name", [n for n in DETECTOR_NAMES if n != "yunet"])
def test_each_name_makes_the_detector_of_that_name(name: str):
    detector = make_detector(Settings(_env_file=None, detect_width=480, min_face_px=30), name)  # type: ignore[call-arg]
    assert detector.name == name
    assert detector.min_face_px == 30


def test_yunet_without_its_model_file_says_what_it_needs():
    with pytest.raises(ModelsUnavailable, match="FACEWATCH_YUNET_MODEL"):
        make_detector(Settings(_env_file=None), "yunet")  # type: ignore[call-arg]


def test_the_default_comes_from_the_settings_and_a_stranger_name_is_refused():
    assert make_detector(Settings(_env_file=None, detector="haar")).name == "haar"  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="one of haar, hog, yunet, centerface"):
        make_detector(Settings(_env_file=None), "mtcnn")  # type: ignore[call-arg]


def test_the_cnns_are_the_ones_whose_boxes_are_faces():
    assert {"centerface", "yunet"} == CNN_DETECTORS
    assert set(DETECTOR_NAMES) == set(DETECTORS) >= CNN_DETECTORS
