"""facewatch: a stranger-at-the-door alarm for any camera.

The package is the shared core of the edge agent and the three functions (detect,
recognize, notify); see ARCHITECTURE.md for the flow of a frame."""

__version__ = "0.1.0"
