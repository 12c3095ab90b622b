import threading

import pytest

from facewatch.edge.spool import Forwarder, Spool, SpoolLocked
from facewatch.exceptions import StorageError


def test_items_survive_a_restart_in_order(tmp_path):
    spool = Spool(tmp_path)
    for i in range(3):
        spool.put(f"k{i}", b"jpeg%d" % i, {"fw-n": str(i)})
    spool.close()  # the agent process ends
    again = Spool(tmp_path)
    item, key, jpeg, meta = again.oldest()
    assert (key, jpeg, meta) == ("k0", b"jpeg0", {"fw-n": "0"})
    again.done(item)
    again.put("k3", b"x", {})
    assert len(again.items()) == 3
    again.close()
    assert Spool(tmp_path).oldest()[1] == "k1"


def test_a_second_agent_on_the_same_spool_is_refused(tmp_path):
    first = Spool(tmp_path)
    with pytest.raises(SpoolLocked, match="in use by another agent"):
        Spool(tmp_path)
    first.close()
    Spool(tmp_path).close()  # free again once the first one is gone


def test_an_incomplete_item_is_not_sent(tmp_path):
    spool = Spool(tmp_path)
    (tmp_path / "000000000001.jpg").write_bytes(b"half written, no .json")
    assert spool.oldest() is None


def test_a_full_spool_drops_the_oldest_and_counts(tmp_path):
    spool = Spool(tmp_path, max_bytes=300)
    for i in range(5):
        spool.put(f"k{i}", b"x" * 100, {})
    assert spool.dropped >= 2
    assert spool.oldest()[1] != "k0"
    assert spool.size() <= 300


def test_the_forwarder_retries_in_order_until_storage_is_back(tmp_path):
    sent, down = [], threading.Event()
    down.set()

    def upload(key, jpeg, meta):
        if down.is_set():
            raise StorageError("unreachable")
        sent.append(key)

    forwarder = Forwarder(Spool(tmp_path), upload, first_backoff=0.01, max_backoff=0.05).start()
    for i in range(5):
        forwarder.submit(f"k{i}", b"x", {})  # never blocks, storage or not
    assert not forwarder.flush(0.3)
    assert forwarder.stats.failures > 0
    down.clear()
    assert forwarder.flush(5)
    forwarder.stop()
    assert sent == [f"k{i}" for i in range(5)]  # in order, each exactly once


@pytest.mark.parametrize("damage", [b"{not json", b'{"no": "key"}'])
def test_a_damaged_item_is_removed_not_retried_forever(tmp_path, damage):
    spool = Spool(tmp_path)
    spool.put("k0", b"x", {})
    (tmp_path / "000000000001.json").write_bytes(damage)
    spool.put("k1", b"y", {})
    assert spool.oldest()[1] == "k1"
