"""Models load lazily, only the ones a call needs, and the HOG detector file is dlib's own."""

import json
import subprocess
import sys
from pathlib import Path

from facewatch.faces.models import HOG_FILE, hog_detector
from tests.conftest import REPO, TESTDATA


def test_the_detector_file_is_what_dlib_saves_and_finds_the_same_faces(tmp_path: Path):
    import dlib

    builtin = dlib.get_frontal_face_detector()
    builtin.save(str(tmp_path / "saved.svm"))
    assert HOG_FILE.read_bytes() == (tmp_path / "saved.svm").read_bytes()
    image = dlib.load_rgb_image(str(TESTDATA / "faces" / "two_people.jpg"))
    assert len(builtin(image, 1)) == 2
    assert list(hog_detector()(image, 1)) == list(builtin(image, 1))


ENCODE_ONE_BOX = """
import json, sys
from facewatch.faces import models
from facewatch.faces.encodings import encode_faces
from facewatch.frames import Box
from facewatch.images import decode_bgr, to_rgb
assert models.loaded() == [], models.loaded()
image = to_rgb(decode_bgr(open(sys.argv[1], "rb").read(), 40_000_000))
encode_faces(image, [Box(*json.loads(sys.argv[2]))])
print(json.dumps({"loaded": models.loaded(), "face_recognition": "face_recognition" in sys.modules}))
"""


def test_encoding_given_boxes_loads_two_models_and_not_face_recognition():
    photo = str(TESTDATA / "faces" / "obama3.jpg")
    done = subprocess.run(
        [sys.executable, "-c", ENCODE_ONE_BOX, photo, "[500, 500, 600, 600]"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report == {"loaded": ["shape_predictor_68", "encoder"], "face_recognition": False}
