"""One module per benchmark scenario; each exposes `run(quick: bool) -> dict`."""
