"""The OpenAPI schema documents the whole interface."""

from __future__ import annotations

import httpx


async def test_openapi_documents_the_interface(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/polls",
        "/api/polls/{room_code}",
        "/api/polls/{room_code}/open",
        "/api/polls/{room_code}/close",
        "/api/polls/{room_code}/reveal",
        "/api/polls/{room_code}/reset",
        "/api/polls/{room_code}/results",
        "/api/polls/{room_code}/results.csv",
        "/health/live",
        "/health/ready",
    ):
        assert path in paths, path
    assert "host_token_hash" not in str(schema)
    board = paths["/api/polls/{room_code}/leaderboard"]["get"]
    assert "security" not in board  # public, like the frame every screen gets
    top = next(p for p in board["parameters"] if p["name"] == "top")
    assert (top["schema"]["minimum"], top["schema"]["maximum"], top["schema"]["default"]) == (
        1,
        1000,
        10,
    )
    assert {"200", "404", "422"} <= set(board["responses"])
    board_body = schema["components"]["schemas"]["LeaderboardPublic"]["properties"]
    assert {"question", "qid", "version", "participants", "top"} <= set(board_body)
    export = paths["/api/polls/{room_code}/leaderboard.csv"]["get"]
    assert export["security"] == [{"HTTPBearer": []}]  # the host only
    assert "text/csv" in export["responses"]["200"]["content"]
    assert {"401", "403", "404"} <= set(export["responses"])
    assert (await client.get("/docs")).status_code == 200
