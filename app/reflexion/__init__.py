"""The Reflexion domain: pure models, ports and the episode loop. No I/O libraries are imported here."""
