"""Zephyr audit-sink."""
