"""The household console: a server-rendered web app (functions/console) where a household
sees its faces, teaches the system and sets its alerts.

- `request.py`: the plain request the app handles, whatever carried it (Flask, a test):
  its head at once, its body only when the app asks, within the form's limits;
- `session.py`: signing in by one-time link, the session records and their cookie,
  signing out (here or everywhere), the origin and CSRF checks, a face-only session's reach;
- `views.py`: what each page shows, read from the bucket through the core package;
- `actions.py`: what each form changes, through the same use cases the CLI runs;
- `images.py`: the face crops and photos the pages show, each checked against the session;
- `app.py`: the routes, and the one place a failure becomes a clear error page.

It holds no state of its own: everything it reads and writes, its sessions too, is the
household's folder in the bucket, through `store.storage`."""
