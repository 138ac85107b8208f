"""The sandbox's base image when none is configured, named once.

Read by the settings (RFX_JUDGE_BASE_IMAGE's default), the judge's config and the Docker proxy's
inspect allow-list. No imports: the proxy is a stdlib-only process and loads this module as it is.
"""

SANDBOX_BASE_IMAGE = "rfx-debian-python:bookworm"
