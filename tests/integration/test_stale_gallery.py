"""A known set encoded by an older facewatch (encodings.GALLERY_FORMAT) is rebuilt from the
photos before it is compared with today's encodings (negatives: tests/integration/test_negatives.py)."""

import numpy as np
import pytest

from facewatch.faces.gallery import GALLERY_FORMAT, Gallery
from facewatch.layout import encodings_key
from facewatch.recognize.known import GalleryCache, enroll, load_gallery, rebuild_gallery
from tests.conftest import TESTDATA

pytestmark = pytest.mark.integration
OBAMA = sorted((TESTDATA / "known" / "obama").iterdir())


def as_old_format(gallery: Gallery, rows: np.ndarray) -> bytes:
    rows = rows.astype(np.float32)
    return Gallery(gallery.names, rows, gallery.photo_keys, gallery.photo_etags, format=1).to_bytes()


def test_the_cache_rebuilds_a_known_set_of_the_previous_format(storage):
    fresh = enroll(storage, "home", "obama", [(p.name, p.read_bytes()) for p in OBAMA], 40_000_000)
    # Same photos, same ETags: only the format says the rows were made another way.
    storage.put(encodings_key("home"), as_old_format(fresh, np.zeros_like(fresh.encodings)))
    gallery, etag = GalleryCache(storage, check_seconds=30).get("home")
    assert not gallery.stale
    assert np.abs(gallery.encodings - fresh.encodings).max() < 1e-6
    stored, stored_etag = load_gallery(storage, "home")
    assert stored.format == GALLERY_FORMAT and stored_etag == etag
    assert np.array_equal(stored.encodings, gallery.encodings)


def test_a_rebuild_does_not_reuse_rows_of_the_previous_format(storage):
    fresh = enroll(storage, "home", "obama", [(p.name, p.read_bytes()) for p in OBAMA], 40_000_000)
    storage.put(encodings_key("home"), as_old_format(fresh, np.ones_like(fresh.encodings)))
    rebuilt = rebuild_gallery(storage, "home", 40_000_000)
    assert rebuilt.format == GALLERY_FORMAT
    assert np.abs(rebuilt.encodings - fresh.encodings).max() < 1e-6
