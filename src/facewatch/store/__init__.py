"""The bucket: every S3 call (storage) and JSON state objects changed by compare-and-swap."""
