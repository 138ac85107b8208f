"""Redis-backed storage: the ONE module that spells key names is keys.py."""
