"""zephyr_runtime.service: the command line every service shares and the start/stop sequence."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from zephyr_runtime.service import Service, run_service, run_until_stopped
from zephyr_runtime.settings import ServiceSettings


class _Settings(ServiceSettings):
    pass


async def _never_serves(settings: _Settings) -> int:
    raise AssertionError("serve must not run for this command")


SERVICE = Service(name="demo", settings=_Settings, serve=_never_serves)


def test_an_unknown_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_service(SERVICE, ["bogus"])
    assert exited.value.code == 2
    assert "usage: demo [serve|migrate] (got 'bogus')" in capsys.readouterr().err


def test_extra_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_service(SERVICE, ["serve", "now"])
    assert exited.value.code == 2
    assert "usage: demo" in capsys.readouterr().err


def test_migrate_without_tables_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    run_service(SERVICE, ["migrate"])
    assert "demo owns no tables: nothing to migrate" in capsys.readouterr().out


def test_retention_gets_its_own_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    service = Service(name="poll-api", settings=_Settings, serve=_never_serves, owns_tables=True)
    assert service.retention == "poll_api.retention:main"
    assert service.migrations is not None and service.migrations.package == "poll_api"
    with pytest.raises(SystemExit) as exited:
        run_service(service, ["retention", "--help"])  # argparse of poll_api.retention
    assert exited.value.code == 0
    assert "retention" in capsys.readouterr().out


def test_a_service_without_tables_has_no_retention(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_service(SERVICE, ["retention"])
    assert exited.value.code == 2
    assert "usage: demo [serve|migrate]" in capsys.readouterr().err


def test_bad_configuration_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZEPHYR_PORT", "not-a-port")
    with pytest.raises(SystemExit) as exited:
        run_service(SERVICE, [])
    assert exited.value.code == 2
    assert "PORT" in capsys.readouterr().err


class _Parts:
    def __init__(self, *, start_fails: bool = False, start_blocks: bool = False) -> None:
        self.events: list[str] = []
        self.started = asyncio.Event()
        self._start_fails = start_fails
        self._start_blocks = start_blocks

    async def start(self) -> None:
        self.events.append("start")
        self.started.set()
        if self._start_blocks:
            await asyncio.sleep(60)
        if self._start_fails:
            raise ConnectionError("broker down")

    async def stop(self) -> None:
        self.events.append("stop")

    async def abort(self) -> None:
        self.events.append("abort")


async def _signal_when(event: asyncio.Event, sig: int = signal.SIGTERM) -> None:
    await event.wait()
    await asyncio.sleep(0.01)
    os.kill(os.getpid(), sig)


async def test_a_stop_signal_stops_after_a_good_start() -> None:
    parts = _Parts()
    killer = asyncio.create_task(_signal_when(parts.started))
    status = await run_until_stopped(parts.start, parts.stop, grace=5)
    await killer
    assert (status, parts.events) == (0, ["start", "stop"])


async def test_a_failed_start_aborts_with_status_1() -> None:
    parts = _Parts(start_fails=True)
    status = await run_until_stopped(parts.start, parts.stop, grace=5, abort=parts.abort)
    assert (status, parts.events) == (1, ["start", "abort"])


async def test_a_stop_signal_during_the_start_cancels_it() -> None:
    parts = _Parts(start_blocks=True)
    killer = asyncio.create_task(_signal_when(parts.started, signal.SIGINT))
    status = await run_until_stopped(parts.start, parts.stop, grace=5)
    await killer
    assert (status, parts.events) == (0, ["start", "stop"])


async def test_a_stop_that_overruns_its_grace_exits_1() -> None:
    parts = _Parts()

    async def slow_stop() -> None:
        await asyncio.sleep(5)

    killer = asyncio.create_task(_signal_when(parts.started))
    status = await run_until_stopped(parts.start, slow_stop, grace=0.05)
    await killer
    assert status == 1


async def test_the_signal_handlers_are_removed_afterwards() -> None:
    parts = _Parts(start_fails=True)
    await run_until_stopped(parts.start, parts.stop, grace=5)
    loop = asyncio.get_running_loop()
    assert loop.remove_signal_handler(signal.SIGTERM) is False  # none left behind
