"""All of poll-api's routes."""

from __future__ import annotations

from fastapi import APIRouter

from poll_api.api.routes import (
    auth,
    exports,
    health,
    host_check,
    join,
    leaderboard,
    manage,
    pages,
    polls,
    qa,
    questions,
    results,
    words,
)

api_router = APIRouter()
api_router.include_router(polls.router)
api_router.include_router(questions.router)
api_router.include_router(results.router)
api_router.include_router(words.router)
api_router.include_router(leaderboard.router)
api_router.include_router(auth.router)
api_router.include_router(manage.router)
api_router.include_router(host_check.router)
api_router.include_router(exports.router)
api_router.include_router(qa.router)
api_router.include_router(health.router)
api_router.include_router(join.router)
api_router.include_router(pages.router)
