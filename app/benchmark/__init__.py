"""Datasets, the benchmark runner, reports and fine-tuning exports."""
