"""The objects a function instance builds once and reuses while warm (clients, detector,
recognizer and its stores). Built lazily: a cold start pays only for what the first request
needs, and nothing heavy happens at import time."""

from __future__ import annotations

import os
from functools import cache, cached_property
from typing import TYPE_CHECKING

from facewatch.config import Settings, get_settings

if TYPE_CHECKING:
    from facewatch.alerts.handover import Notifier
    from facewatch.alerts.mail_transport import MailTransport
    from facewatch.faces.detection import FaceDetector
    from facewatch.recognize.recognizer import Recognizer
    from facewatch.store.storage import Storage
    from facewatch.web.sns import SnsVerifier
    from facewatch.web.sns_replays import SeenMessages

# One BLAS thread per call, set before anything imports numpy (this module is imported by
# every function's entry point first): a function serves requests in threads side by side,
# which is its parallelism; OpenBLAS's own threads on top oversubscribe the cores and spin
# while they wait. Measured under the load test (RELIABILITY.md): recognize's CPU per frame
# 125 ms with OpenBLAS's default threads on two cores, 72 ms with one.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def storage(self) -> Storage:
        from facewatch.store.storage import Storage

        return Storage.from_settings(self.settings)

    @cached_property
    def detector(self) -> FaceDetector:
        from facewatch.faces.detectors import make_detector

        return make_detector(self.settings)

    @cached_property
    def notifier(self) -> Notifier:
        from facewatch.alerts.handover import notifier_from_settings

        return notifier_from_settings(self.settings)

    @cached_property
    def mail(self) -> MailTransport:
        from facewatch.alerts.mail_transport import mail_transport_from_settings

        return mail_transport_from_settings(self.settings)

    @cached_property
    def recognizer(self) -> Recognizer:
        from facewatch.recognize.recognizer import Recognizer

        return Recognizer.from_settings(self.storage, self.settings, self.notifier)

    @cached_property
    def sns(self) -> SnsVerifier:
        """Checks SNS HTTP(S) messages for the subscribed topics; caches SNS's certificates."""
        from facewatch.web.sns import SnsVerifier, https_get

        return SnsVerifier(self.settings.sns_topic_arns, fetch_cert=https_get, http_get=https_get)

    @cached_property
    def sns_seen(self) -> SeenMessages:
        """The SNS MessageIds taken, shared by every instance through the bucket."""
        from facewatch.web.sns_replays import SeenMessages

        return SeenMessages(self.storage)


@cache
def services() -> Services:
    return Services(get_settings())
