"""Faces in pixels: finding them (detectors), their chips and descriptors (dlib and the numpy
network), and the model files."""
