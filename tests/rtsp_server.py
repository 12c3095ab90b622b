#!/usr/bin/python3
"""Serve a video file as an endless *live* RTSP camera (test fixture).

Run with Debian's system python (it needs ``gi``/GstRtspServer)::

    /usr/bin/python3 rtsp_server.py --file clip.mp4 --port 0 --path /cam

Design: a "producer" pipeline decodes the file in real time and loops it
seamlessly with segment seeks, writing raw frames into an ``intervideosink``.
The RTSP media is ``intervideosrc`` (a live source with its own, ever
increasing timestamps and no duration) -> x264enc (tune=zerolatency) ->
rtph264pay.  So clients see a live camera that never ends, and a client
joining at any time gets frames at once (the last frame is repeated while the
producer seeks back to the start).

Once the server listens it prints one line ``READY rtsp://127.0.0.1:PORT/PATH``
on stdout (``--port 0`` picks a free port).  SIGTERM/SIGINT stop it cleanly.
With ``--exit-on-stdin-eof`` it also quits when its stdin closes, so a
crashed test run leaves no orphan.  Only 127.0.0.1 is bound for RTSP; RTP goes interleaved over the RTSP TCP
connection unless ``--allow-udp`` is given.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

HOST = "127.0.0.1"


def log(msg: str) -> None:
    print(f"rtsp_server[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


class LoopingProducer:
    """Decode ``path`` in real time forever into intervideosink ``channel``."""

    def __init__(self, path: Path, channel: str, loop: GLib.MainLoop) -> None:
        self._loop = loop
        self.failed = False
        self.pipeline = Gst.Pipeline.new("producer")
        src = Gst.ElementFactory.make("filesrc", None)
        src.set_property("location", str(path))
        dec = Gst.ElementFactory.make("decodebin", None)
        self._convert = Gst.ElementFactory.make("videoconvert", None)
        sink = Gst.ElementFactory.make("intervideosink", None)
        sink.set_property("channel", channel)
        sink.set_property("sync", True)  # real-time pacing
        for element in (src, dec, self._convert, sink):
            self.pipeline.add(element)
        src.link(dec)
        self._convert.link(sink)
        dec.connect("autoplug-continue", self._on_autoplug_continue)
        dec.connect("pad-added", self._on_pad_added)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)

    @staticmethod
    def _on_autoplug_continue(_bin: Gst.Element, _pad: Gst.Pad, caps: Gst.Caps) -> bool:
        # Do not decode audio (or anything else that is not video): no CPU
        # wasted and no dependency on an audio decoder being installed.
        name = caps.get_structure(0).get_name()
        return name.startswith("video/") or not (
            name.startswith("audio/") or name.startswith("text/") or name.startswith("subpicture/")
        )

    def _on_pad_added(self, _bin: Gst.Element, pad: Gst.Pad) -> None:
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        if name.startswith("video/x-raw"):
            target = self._convert.get_static_pad("sink")
            if not target.is_linked():
                pad.link(target)
                return
        # Any other stream: swallow it so the demuxer never sees not-linked.
        fake = Gst.ElementFactory.make("fakesink", None)
        fake.set_property("sync", False)
        fake.set_property("async", False)
        self.pipeline.add(fake)
        fake.sync_state_with_parent()
        pad.link(fake.get_static_pad("sink"))

    def start(self) -> bool:
        self.pipeline.set_state(Gst.State.PAUSED)
        result, _state, _pending = self.pipeline.get_state(10 * Gst.SECOND)
        if result == Gst.StateChangeReturn.FAILURE or self.failed:
            return False
        # Flushing segment seek once; then non-flushing segment seeks on each
        # SEGMENT_DONE loop the file with continuous running time.
        if not self._seek(Gst.SeekFlags.FLUSH | Gst.SeekFlags.SEGMENT):
            log("initial segment seek failed (file not seekable?)")
            return False
        self.pipeline.set_state(Gst.State.PLAYING)
        return True

    def stop(self) -> None:
        self.pipeline.set_state(Gst.State.NULL)

    def _seek(self, flags: Gst.SeekFlags) -> bool:
        return self.pipeline.seek(1.0, Gst.Format.TIME, flags, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)

    def _on_message(self, _bus: Gst.Bus, msg: Gst.Message) -> None:
        if msg.type == Gst.MessageType.SEGMENT_DONE:
            self._seek(Gst.SeekFlags.SEGMENT)
        elif msg.type == Gst.MessageType.EOS:  # should not happen; restart anyway
            self._seek(Gst.SeekFlags.FLUSH | Gst.SeekFlags.SEGMENT)
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            log(f"producer error: {err.message} ({debug})")
            self.failed = True
            self._loop.quit()


def media_launch(channel: str, bitrate_kbps: int, keyint: int) -> str:
    return (
        f"( intervideosrc channel={channel} timeout={5 * Gst.SECOND} "
        "! queue max-size-buffers=2 leaky=downstream "
        "! videoconvert "
        f"! x264enc tune=zerolatency speed-preset=ultrafast threads=1 "
        f"bitrate={bitrate_kbps} key-int-max={keyint} "
        "! video/x-h264,profile=constrained-baseline "
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def keep_media_prepared(
    server: GstRtspServer.RTSPServer, factory: GstRtspServer.RTSPMediaFactory, url: str
) -> bool:
    """Prepare the shared media now and hold one prepare count forever.

    Without this the media is unprepared (asynchronously) whenever its last
    client leaves, and a DESCRIBE arriving during that window gets
    ``503 Service Unavailable`` -- e.g. a test that probes and then opens
    immediately, or reconnects at once.  Holding a count also makes the
    first client fast (pipeline already running) and makes startup fail
    early if an element is missing.
    """
    ok, rtsp_url = GstRtsp.RTSPUrl.parse(url)
    if ok != GstRtsp.RTSPResult.OK:
        return False
    media = factory.construct(rtsp_url)  # shared: cached under this URL's key
    if media is None:
        return False
    thread = server.get_thread_pool().get_thread(
        GstRtspServer.RTSPThreadType.MEDIA, GstRtspServer.RTSPContext()
    )
    return thread is not None and media.prepare(thread)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--file", required=True, type=Path, help="video file to loop")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free)")
    p.add_argument("--path", default="/cam", help="mount path (default /cam)")
    p.add_argument("--bitrate", type=int, default=800, help="x264 bitrate, kbit/s")
    p.add_argument("--keyint", type=int, default=15, help="frames between IDR frames")
    p.add_argument("--allow-udp", action="store_true", help="also offer RTP over UDP")
    p.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="quit when stdin closes (the parent died): no orphan servers",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.file.is_file():
        log(f"no such file: {args.file}")
        return 2
    path = args.path if args.path.startswith("/") else "/" + args.path

    Gst.init(None)
    loop = GLib.MainLoop()
    channel = f"cam{os.getpid()}"

    producer = LoopingProducer(args.file.resolve(), channel, loop)
    if not producer.start():
        log("could not start decoding the file")
        producer.stop()
        return 1

    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(media_launch(channel, args.bitrate, args.keyint))
    factory.set_shared(True)  # one encoder for all clients
    if not args.allow_udp:
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    server.get_mount_points().add_factory(path, factory)
    if server.attach(None) == 0:
        log(f"cannot listen on {HOST}:{args.port}")
        producer.stop()
        return 1

    # Expire sessions of clients that vanished without TEARDOWN.
    def cleanup() -> bool:
        server.get_session_pool().cleanup()
        return True

    GLib.timeout_add_seconds(2, cleanup)

    def on_signal() -> bool:
        loop.quit()
        return False

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, on_signal)

    if args.exit_on_stdin_eof:

        def on_stdin(fd: int, _cond: GLib.IOCondition) -> bool:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                log("stdin closed: parent gone, exiting")
                loop.quit()
                return False
            return True

        GLib.unix_fd_add_full(
            GLib.PRIORITY_DEFAULT,
            sys.stdin.fileno(),
            GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR,
            on_stdin,
        )

    url = f"rtsp://{HOST}:{server.get_bound_port()}{path}"
    if not keep_media_prepared(server, factory, url):
        log("could not prepare the RTSP media pipeline")
        producer.stop()
        return 1

    print(f"READY {url}", flush=True)
    try:
        loop.run()
    finally:
        producer.stop()
    return 1 if producer.failed else 0


if __name__ == "__main__":
    sys.exit(main())
