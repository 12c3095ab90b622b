"""Every error facewatch raises on purpose, as one tree:

FacewatchError
├── BadInput             the caller sent something we cannot use (HTTP 4xx)
│   ├── BadImage         not a decodable JPEG/PNG, or too large to decode safely
│   ├── PhotoRefused     a photo enrollment's gates refuse (recognize/photo_checks.py)
│   ├── BadEvent         a trigger payload of no shape we know, or missing fields
│   ├── BadKey           an object key, household or camera id outside the layout
│   └── BadSettings      a FACEWATCH_* setting the process refuses to start with
├── StorageError         the object store failed or refused (HTTP 5xx: retry later)
│   ├── BucketMissing    the bucket does not exist
│   └── ObjectMissing    the object named by an event is not there (any more)
├── ModelsUnavailable    dlib or the face models cannot be loaded
└── AlertError           an alert could not be delivered on its channel
    └── DeliveryError    a send failed, and says whether trying again may help
"""

from __future__ import annotations


class FacewatchError(Exception):
    """Base of every error facewatch raises on purpose."""


class BadInput(FacewatchError):
    """The caller's input cannot be used; retrying the same input will not help."""


class BadImage(BadInput):
    pass


class BadEvent(BadInput):
    pass


class BadKey(BadInput):
    pass


class BadSettings(BadInput):
    """A setting is refused (a weak or template secret, a value out of range): the process
    stops at start rather than run with it."""


class StorageError(FacewatchError):
    """The object store failed; the same request may succeed later."""


class BucketMissing(StorageError):
    pass


class ObjectMissing(StorageError):
    pass


class WriteConflict(StorageError):
    pass


class ModelsUnavailable(FacewatchError):
    pass


class AlertError(FacewatchError):
    pass


class AlertInProgress(AlertError):
    """Another invocation is sending this very alert right now: ask again later."""


class DeliveryError(AlertError):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
