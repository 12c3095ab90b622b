"""The `facewatch` command: every click command lives here, and nothing outside this package imports click."""
