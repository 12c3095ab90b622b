"""recognize's use case: parsing storage triggers, judging faces against the known set,
visits and remembered strangers with their stores, corrections."""
