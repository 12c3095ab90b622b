"""`facewatch up`: the whole pipeline at home, on this machine, until stopped.

- `config.py`: the TOML config file (households, cameras, SMTP, ports) and its validation;
- `home.py`: seaweedfs with its data under the data folder, the functions on fixed ports,
  the cameras' agents, mail to the configured SMTP server or a local outbox; started,
  supervised and stopped in order;
- `supervisor.py`: restart with backoff, counting, the "keeps dying" report, the status file;
- `camera.py`: one camera's edge agent as a process, with its counts for the status;
- `sweep.py`: frames without a result (uploaded while recognize was down) judged later."""
