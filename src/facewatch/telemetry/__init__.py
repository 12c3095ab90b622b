"""What facewatch tells its operator about itself: the figures (`figures.py`, the one
registry of metrics), written as Prometheus metrics by a long-running process
(`prometheus.py`) or as CloudWatch embedded-metric-format lines on Lambda (`emf.py`), and
log lines as text or JSON with the frame they are about (`logs.py`)."""
