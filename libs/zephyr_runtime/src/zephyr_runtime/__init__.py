"""Shared runtime plumbing for Zephyr's services. Services import this; never each other."""
