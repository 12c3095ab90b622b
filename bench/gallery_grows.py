"""The "gallery grows" protocol (bench/RESULTS.md, "Per visit"): how the per-visit figures
change as a household answers the questions "Is this X?" its camera makes it ask.

    python bench/labelled_clips.py /tmp/clips
    python bench/gallery_grows.py /tmp/clips [--answers 0,5,20] [--days 7] [--json]

1. A learning household enrolls ONE photo per person (the first of TREE/known/<name>/).
2. Each day (the recognizer's clock moves a day at a time, so each person's daily limit of
   questions opens again) every clip of TREE/videos plays into it through the edge agent and
   recognize's own Recognizer, as `facewatch eval --videos` plays them; then the questions
   waiting are answered, the most useful first, by the clips' labels: yes when the face asked
   about is from a clip labelled with the person asked about, else no. Answers go the
   console's way (recognize/question_answers.py: yes through the enrollment gates). It stops
   at the largest number of answers asked for, or when a day asks nothing new.
3. After 0, 5 and 20 answers (or as many as were asked) the learning household's known
   photos and negatives are copied, and every clip is evaluated on that copy, each clip in a
   fresh household as `facewatch eval --videos` does: the same per-visit figures.

The last line (with --json) is JSON: per point, the answers given (yes/no), the known photos
and negatives, and the totals of local/video_evaluation.VISIT_FIGURES."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facewatch.config import Settings  # noqa: E402
from facewatch.exceptions import BadInput  # noqa: E402
from facewatch.faces.detectors import make_detector  # noqa: E402
from facewatch.faces.gallery import Gallery  # noqa: E402
from facewatch.layout import known_prefix, negatives_key  # noqa: E402
from facewatch.local.demo import known_people  # noqa: E402
from facewatch.local.evaluation import eval_storage  # noqa: E402
from facewatch.local.video_evaluation import (  # noqa: E402
    VISIT_FIGURES,
    AlertTally,
    LabelledClip,
    clip_entry,
    labelled_clips,
    play_clip,
)
from facewatch.recognize.known import enroll, rebuild_gallery  # noqa: E402
from facewatch.recognize.question_answers import answer_question  # noqa: E402
from facewatch.recognize.question_store import QuestionStore  # noqa: E402
from facewatch.recognize.questions import Answer  # noqa: E402
from facewatch.recognize.recognizer import Recognizer  # noqa: E402
from facewatch.store.storage import Storage  # noqa: E402

LEARNER = "grow"


def snapshot(storage: Storage) -> dict[str, bytes]:
    """The learning household's known photos and negatives, by key below the household."""
    base = known_prefix(LEARNER).removesuffix("known/")
    keys = [*storage.list_keys(known_prefix(LEARNER))]
    if storage.exists(negatives_key(LEARNER)):
        keys.append(negatives_key(LEARNER))
    return {key.removeprefix(base): storage.get(key).body for key in keys}


def evaluate(
    storage: Storage,
    settings: Settings,
    clips: list[LabelledClip],
    copy: dict[str, bytes],
    point: int,
    scratch: Path,
) -> dict[str, Any]:
    tally = AlertTally()
    recognizer = Recognizer.from_settings(storage, settings, tally)
    detector = make_detector(settings)
    entries = []
    for index, clip in enumerate(clips):
        household = f"a{point:02d}c{index:02d}"
        base = known_prefix(household).removesuffix("known/")
        for key, body in copy.items():
            storage.put(base + key, body)
        rebuild_gallery(storage, household, settings.max_image_pixels)
        played = play_clip(clip, household, storage, settings, recognizer, detector, scratch)
        entries.append(clip_entry(clip, played, tally.strangers.get(household, 0)))
    return {figure: sum(e[figure] for e in entries) for figure in VISIT_FIGURES} | {"clips": entries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path, help="bench/labelled_clips.py's OUT")
    parser.add_argument("--answers", default="0,5,20", help="the points to report, in answers given")
    parser.add_argument("--days", type=int, default=7, help="the most days of questions to answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    points = sorted({int(n) for n in args.answers.split(",")})
    people = known_people(args.tree / "known")
    clips = labelled_clips(args.tree / "videos", set(people))
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="facewatch-gallery-grows-") as tmp,
        eval_storage(Path(tmp), "facewatch-gallery-grows") as (storage, endpoint),
    ):
        settings = Settings().model_copy(
            update={"s3_endpoint_url": endpoint, "bucket": storage.bucket, "encodings_check_seconds": 0}
        )
        for name, photos in people.items():
            enroll(
                storage, LEARNER, name, [(photos[0].name, photos[0].read_bytes())], settings.max_image_pixels
            )
        tally = AlertTally()
        recognizer = Recognizer.from_settings(storage, settings, tally)
        detector = make_detector(settings)
        label_of: dict[str, str] = {}
        answers: list[dict[str, Any]] = []
        copies = {0: snapshot(storage)}
        for day in range(args.days):
            recognizer.now = lambda day=day: datetime.now(UTC) + timedelta(days=day)  # type: ignore[misc]
            for clip in clips:
                for result in play_clip(
                    clip, LEARNER, storage, settings, recognizer, detector, Path(tmp)
                ).results:
                    label_of[result.frame_key] = clip.label
            asked = QuestionStore(storage).waiting_questions(LEARNER)
            print(f"day {day}: {len(asked)} question(s) waiting", file=sys.stderr)
            if not asked:
                break
            for question in asked:
                if len(answers) >= points[-1]:
                    break
                said = Answer.YES if label_of.get(question.frame_key) == question.person else Answer.NO
                try:
                    answer_question(
                        storage, settings, LEARNER, question.question_id, question.verdict_id, said
                    )
                    refused = None
                except BadInput as exc:  # the gates refused the face: the question left all the same
                    refused = str(exc)
                answers.append({"person": question.person, "answer": said.value, "refused": refused})
                if len(answers) in points:
                    copies[len(answers)] = snapshot(storage)
            if len(answers) >= points[-1]:
                break
        for point in points:  # fewer questions were asked than this: the state at the end
            copies.setdefault(point, snapshot(storage))
        report = []
        for point in points:
            given = answers[:point]
            copy = copies[point]
            gallery_rows = sum(1 for k in copy if k.startswith("known/"))  # photos, not rows
            figures = evaluate(storage, settings, clips, copy, point, Path(tmp))
            report.append(
                {
                    "answers": point,
                    "answered": len(given),
                    "yes": sum(a["answer"] == "yes" for a in given),
                    "no": sum(a["answer"] == "no" for a in given),
                    "refused": sum(a["refused"] is not None for a in given),
                    "known_photos": gallery_rows,
                    "negatives": len(Gallery.from_bytes(copy["negatives.npz"]))
                    if "negatives.npz" in copy
                    else 0,
                    **figures,
                }
            )
    out = {"points": report, "answers_given": answers, "seconds": round(time.perf_counter() - started, 1)}
    columns = [
        "answers (yes/no)",
        "known photos",
        "negatives",
        "known visits named",
        "false alarms",
        "stranger visits alerted once",
        "missed alarms",
        "faces unsure",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in report:
        print(
            f"| {row['answered']} ({row['yes']}/{row['no']}) | {row['known_photos']} | {row['negatives']} | "
            f"{row['known_visits_named']}/{row['known_visits']} | {row['known_visits_alerted']} | "
            f"{row['stranger_visits_alerted_once']}/{row['stranger_visits']} | "
            f"{row['stranger_visits_named']} | "
            f"{row['faces_unsure']} |"
        )
    if args.json:
        print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
