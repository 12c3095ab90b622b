"""The labelled clips and known sets `facewatch eval --videos` is run on in bench/RESULTS.md
("Per visit"), made from the shared test data (/work/shared/testdata, see its SOURCES.md).

    python bench/labelled_clips.py OUT [--testdata /work/shared/testdata]

The shared data holds one real clip (short_hamilton_clip.mp4: Lin-Manuel Miranda, with a
second face that matches nobody). Every other clip is SYNTHETIC: a still photo of a person
(one not among that person's enrolled photos) drifting a few pixels, 4 s at 10 fps, as
someone standing at the door (the pattern of tests/conftest.make_video). It writes:

- OUT/known/: knn_examples/train (obama, biden, alex_lacamoire, kit_harington, rose_leslie);
- OUT/known+lin/: the same and lin_manuel_miranda (lin-manuel-miranda.png);
- OUT/videos/: obama (obama3.jpg), alex_lacamoire (alex_lacamoire1.jpg), kit_harington
  (johnsnow_test1.jpg), all synthetic; stranger: the real Hamilton clip, and a synthetic one
  of lin-manuel-miranda.png (nobody in OUT/known is Lin-Manuel Miranda);
- OUT/videos+lin/: lin_manuel_miranda: the real Hamilton clip (to run with OUT/known+lin)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np


def drifting_still(photo: Path, out: Path, seconds: float = 4.0, fps: int = 10, width: int = 640) -> None:
    image = cv2.imread(str(photo))
    scale = width / image.shape[1]
    image = cv2.resize(image, (width, int(image.shape[0] * scale) // 2 * 2))
    h, w = image.shape[:2]
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(int(seconds * fps)):
        shift = np.float32([[1, 0, (i % 7) - 3], [0, 1, 0]])
        writer.write(cv2.warpAffine(image, shift, (w, h), borderMode=cv2.BORDER_REPLICATE))
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--testdata", type=Path, default=Path("/work/shared/testdata"))
    args = parser.parse_args()
    faces, out = args.testdata / "faces", args.out
    shutil.copytree(faces / "knn_examples" / "train", out / "known")
    shutil.copytree(faces / "knn_examples" / "train", out / "known+lin")
    (out / "known+lin" / "lin_manuel_miranda").mkdir()
    shutil.copy(faces / "lin-manuel-miranda.png", out / "known+lin" / "lin_manuel_miranda")
    clip = args.testdata / "video" / "short_hamilton_clip.mp4"
    for folder in (out / "videos" / "stranger", out / "videos+lin" / "lin_manuel_miranda"):
        folder.mkdir(parents=True)
        shutil.copy(clip, folder / clip.name)
    test = faces / "knn_examples" / "test"
    for label, photo in [
        ("obama", faces / "obama3.jpg"),
        ("alex_lacamoire", test / "alex_lacamoire1.jpg"),
        ("kit_harington", test / "johnsnow_test1.jpg"),
        ("stranger", faces / "lin-manuel-miranda.png"),
    ]:
        drifting_still(photo, out / "videos" / label / f"synthetic-{photo.stem}.mp4")


if __name__ == "__main__":
    main()
