"""Zephyr ws-gateway: participants join and vote over WebSockets; live tallies fan out."""
