"""poll-api's HTTP interface."""
