"""The edge tier: capture, the motion gate, tracking, which frames to send, the spool and the
agent's run loop. Nothing here imports recognize or alerts."""
