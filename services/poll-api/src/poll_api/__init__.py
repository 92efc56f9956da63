"""Zephyr poll-api."""
