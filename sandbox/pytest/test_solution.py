# A placeholder pytest collects; the tests themselves are compiled from memory (rfx_sandbox/pytest_run.py).
