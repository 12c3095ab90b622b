"""A household's data as a whole, for the people who run a deployment for others: handed
back as one zip (`export.py`), brought into another deployment (`imports.py`), or erased
(`erase.py`). The zip's format is `archive.py`'s."""
