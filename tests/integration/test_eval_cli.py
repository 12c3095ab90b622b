"""`facewatch eval` on a small gallery/probe tree: the gallery is enrolled through the real
enroll path into a real S3 server, each probe judged by recognize's decision code."""

from __future__ import annotations

import json
import shutil
from statistics import NormalDist

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from facewatch.cli.main import main
from facewatch.faces.gallery import GALLERY_FORMAT
from facewatch.frames import Box
from facewatch.local.evaluation import central_face
from facewatch.recognize.decisions import PRIOR_IMPOSTOR
from tests.conftest import TESTDATA, clip_frame

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_eval_names_the_known_and_refuses_the_stranger(tmp_path):
    gallery, probes = tmp_path / "gallery", tmp_path / "probes"
    shutil.copytree(TESTDATA / "known", gallery)
    (probes / "obama").mkdir(parents=True)
    shutil.copy(TESTDATA / "faces" / "obama3.jpg", probes / "obama" / "obama3.jpg")
    # A 16-bit PNG of a known person still counts (decoded to 8 bits like any frame).
    photo = cv2.imread(str(TESTDATA / "faces" / "obama3.jpg"))
    cv2.imwrite(
        str(probes / "obama" / "obama3-16bit.png"),
        cv2.resize(photo, None, fx=0.5, fy=0.5).astype(np.uint16) * 257,
    )
    cv2.imwrite(
        str(probes / "obama" / "grey.png"),
        cv2.cvtColor(cv2.resize(photo, None, fx=0.5, fy=0.5), cv2.COLOR_BGR2GRAY),
    )
    (probes / "lin_manuel").mkdir()
    cv2.imwrite(str(probes / "lin_manuel" / "stage.jpg"), clip_frame(90))
    (probes / "nobody").mkdir()
    cv2.imwrite(str(probes / "nobody" / "blank.png"), np.full((200, 300, 3), 90, np.uint8))
    result = CliRunner().invoke(main, ["eval", "--gallery", str(gallery), "--probes", str(probes), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["known_probes"] == 3
    assert summary["known_correct_rate"] == 1.0
    assert summary["stranger_probes"] == 1
    assert summary["stranger_false_accept_rate"] == 0.0
    assert summary["no_face"] == 1
    # Two people are too few to measure their own impostor distances: the encoder's prior
    # stands in, at the α/2 quantile (Bonferroni over the two).
    mean, sd = PRIOR_IMPOSTOR
    assert summary["threshold"] == pytest.approx(mean + sd * NormalDist().inv_cdf(0.02 / 2), abs=1e-4)
    assert summary["encodings_format"] == GALLERY_FORMAT  # ten views, as enroll does
    assert summary["seconds_per_image"] > 0


def test_eval_refuses_a_tree_of_the_wrong_shape(tmp_path):
    result = CliRunner().invoke(
        main, ["eval", "--gallery", str(tmp_path), "--probes", str(tmp_path), "--json"]
    )
    assert result.exit_code == 2
    assert "holds no" in result.output


def test_the_labelled_face_is_the_one_nearest_the_centre():
    boxes = [Box(0, 0, 50, 50), Box(180, 80, 60, 60), Box(350, 200, 40, 40)]
    assert central_face(boxes, 400, 300) == Box(180, 80, 60, 60)
