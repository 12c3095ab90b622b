"""The strangers a household remembers, built up sighting by sighting through the pure rules
(recognize.strangers.remember) as the stranger store does, for the tests of those rules."""

from datetime import timedelta

from facewatch.layout import FrameKey
from facewatch.recognize.decisions import MatchPolicy
from facewatch.recognize.strangers import NewSighting, StrangerSighting, remember

POLICY = MatchPolicy(threshold=0.55, min_face_px=40, min_sharpness=15.0)
MEMORY = timedelta(days=30)
KNOWN_THRESHOLD = 0.6


class Memory:
    """Applies sightings one after another, as the store does."""

    def __init__(self):
        self.strangers = []
        self.n = 0

    def see(self, encoding, at, *, visit=None, verdict=None, camera="door", box=(10, 10, 80, 80)):
        self.n += 1
        verdict = verdict or f"home/{camera}/20261125/1400000000{self.n:02d}-abcdef12#0"
        frame, _ = FrameKey.from_verdict_id(verdict)
        new = NewSighting(
            "home",
            StrangerSighting(verdict, str(frame), camera, at, box),
            encoding,
            visit or f"visit-{self.n}",
            face_px=80,
            sharpness=100.0,
        )
        self.strangers, recall = remember(
            new, self.strangers, now=at, policy=POLICY, memory=MEMORY, same_visit_limit=KNOWN_THRESHOLD
        )
        return recall
