"""A spool on a full disk: writes fail with ENOSPC (the OS's own write, for files in the
spool directory only), the agent loses frames, never its capture loop."""

import errno
import logging
import os
import threading
from pathlib import Path

import pytest

from facewatch.config import Settings
from facewatch.edge.agent import run_agent
from facewatch.edge.pipeline import EdgeOptions
from facewatch.edge.spool import Spool, SpoolOptions
from facewatch.exceptions import StorageError
from tests.conftest import TESTDATA


class SmallDisk:
    """A disk of `capacity` bytes holding `directory`: a write past it fails, as a real one
    does, after writing what still fitted."""

    def __init__(self, directory: Path, capacity: int, monkeypatch: pytest.MonkeyPatch) -> None:
        self.directory, self.capacity = directory.resolve(), capacity
        self.fds: set[int] = set()
        self.full_writes = 0
        real_open, real_write, real_close = os.open, os.write, os.close

        def opened(path, flags, *args, **kwargs):
            fd = real_open(path, flags, *args, **kwargs)
            if Path(path).resolve().parent == self.directory:
                self.fds.add(fd)
            return fd

        def write(fd, data):
            if fd not in self.fds:
                return real_write(fd, data)
            room = self.capacity - self.used()
            if len(data) > room:
                if room > 0:
                    real_write(fd, bytes(data[:room]))
                self.full_writes += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_write(fd, data)

        def close(fd):
            self.fds.discard(fd)
            return real_close(fd)

        monkeypatch.setattr(os, "open", opened)
        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "close", close)

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != ".lock")


def test_a_full_disk_costs_the_oldest_frame_and_the_new_one_is_kept(tmp_path, monkeypatch):
    spool = Spool(tmp_path)
    disk = SmallDisk(tmp_path, capacity=3 * 1000, monkeypatch=monkeypatch)
    for i in range(4):
        assert spool.put(f"k{i}", b"x" * 900, {}) is True
    assert disk.full_writes == 1
    assert [Path(p).stem for p in spool.items()] == ["000000000002", "000000000003", "000000000004"]
    assert spool.oldest()[1] == "k1"
    assert spool.dropped == 1
    assert not [name for name in files(tmp_path) if name.endswith(".tmp")]
    assert spool.size() == disk.used()


def test_a_frame_the_disk_cannot_take_is_lost_counted_and_logged_once(tmp_path, monkeypatch, caplog):
    spool = Spool(tmp_path)
    SmallDisk(tmp_path, capacity=500, monkeypatch=monkeypatch)
    with caplog.at_level(logging.ERROR, logger="facewatch.edge.spool"):
        for i in range(5):
            assert spool.put(f"k{i}", b"x" * 900, {}) is False
    assert files(tmp_path) == []  # no half-written file left to fill the disk further
    assert len(spool) == 0 and spool.size() == 0
    assert (spool.dropped, spool.write_failures) == (5, 5)
    assert len([r for r in caplog.records if "cannot be written" in r.message]) == 1
    assert spool.put("small", b"x" * 100, {}) is True  # space enough again: spooled as usual


def test_the_agent_keeps_capturing_on_a_full_disk_and_starts_again_on_it(tmp_path, monkeypatch):
    class DownStorage:
        def put(self, *args, **kwargs):
            raise StorageError("network down")

    spool = tmp_path / "spool"
    spool.mkdir()
    SmallDisk(spool, capacity=20_000, monkeypatch=monkeypatch)  # less than one frame
    for run in range(2):  # the second start meets the same full disk
        summary = run_agent(
            str(TESTDATA / "video" / "short_hamilton_clip.mp4"),
            household="home",
            camera="door",
            settings=Settings(bucket="b"),
            storage=DownStorage(),
            options=EdgeOptions(spool=SpoolOptions(directory=spool, drain_timeout=0.2, max_backoff=0.1)),
            stop=threading.Event(),
        )
        assert summary.frames_chosen > 0, run
        assert summary.dropped == summary.frames_chosen
        assert summary.spooled == 0
    assert files(spool) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_the_kernels_own_enospc_is_cleaned_up_and_retried_not_raised(tmp_path):
    spool = Spool(tmp_path)
    # The next frame's temporary file is /dev/full: every write to it fails with ENOSPC.
    (tmp_path / ".000000000001.jpg.tmp").symlink_to("/dev/full")
    assert spool.put("k0", b"x" * 900, {}) is True
    assert spool.oldest()[1:3] == ("k0", b"x" * 900)
    assert files(tmp_path) == ["000000000001.jpg", "000000000001.json"]
