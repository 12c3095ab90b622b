"""A household's answer to a question "Is this X?" (recognize/questions.py), by the same
paths as the console's and the CLI's own words about a face: yes is "this is X" (the face
joins X's photos, through the enrollment gates), no is "this is not X" (it joins X's
negatives). The question leaves first, so it is answered once. An answer whose lesson
cannot be learned (the gates refuse the face, its frame is gone, X is no longer known)
takes the question away too, so it is not asked again, and the refusal is raised for the
person to read."""

from __future__ import annotations

from dataclasses import dataclass

from facewatch.config import Settings
from facewatch.exceptions import BadInput, ObjectMissing
from facewatch.recognize.naming import name_face
from facewatch.recognize.negatives import not_this_person
from facewatch.recognize.photo_gates import GateLimits, PhotoWarning
from facewatch.recognize.question_store import QuestionStore
from facewatch.recognize.questions import Answer, NotWaiting
from facewatch.records import Question
from facewatch.store.storage import Storage


@dataclass(frozen=True, slots=True)
class Answered:
    question: Question
    answer: Answer
    warnings: tuple[PhotoWarning, ...] = ()
    """What the enrollment gates said of the face, for a yes."""

    @property
    def said(self) -> str:
        person = self.question.person
        if self.answer is Answer.YES:
            warned = "".join(f" Warning: {w.text}." for w in self.warnings)
            return f"Thank you: that face is now one of {person}'s photos.{warned}"
        return f"Thank you: noted that the face is not {person}."


def answer_question(
    storage: Storage, settings: Settings, household: str, question_id: str, verdict_id: str, answer: Answer
) -> Answered:
    """Remove the question, then learn what the answer says of its face.
    `verdict_id`: the face the answering page showed, which must be the question's."""
    store = QuestionStore(storage)
    question = next((q for q in store.waiting_questions(household) if q.question_id == question_id), None)
    if question is None:
        raise NotWaiting("that question was answered already, or has expired")
    if question.verdict_id != verdict_id.strip():
        raise BadInput("that question is about another face")
    same_person = settings.same_person_threshold
    # Taken first, by the book's compare-and-swap: of two answers at once (yes and no, a
    # double click) one teaches and the other is refused having taught nothing. The price:
    # a storage failure while learning loses the question (near-misses may ask it again).
    store.answer(household, question_id, same_person=same_person)
    if question.person not in _known(storage, household):
        # Removed or renamed since it was asked: a yes would enroll them anew from this face.
        raise BadInput(f"{question.person} is no longer known: that question is taken away")
    if answer is Answer.YES:
        limits = GateLimits.from_settings(settings)
        naming = name_face(
            storage, household, question.verdict_id, question.person, settings.max_image_pixels, limits
        )
        warnings = naming.warnings
    else:
        not_this_person(
            storage, question.verdict_id, question.person, settings.max_image_pixels, named_only=False
        )
        warnings = ()
    return Answered(question, answer, warnings)


def _known(storage: Storage, household: str) -> set[str]:
    from facewatch.recognize.known import load_gallery

    try:
        return set(load_gallery(storage, household)[0].names)
    except ObjectMissing:
        return set()
