"""The in-container side of the judge: runner (PID 1), harness and candidate; stdlib only."""
