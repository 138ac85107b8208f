"""Deployment helpers that run beside the service: the filtering Docker socket proxy."""
