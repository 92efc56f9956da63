"""Zephyr vote-worker: records votes in batches, keeps tallies, publishes them."""
