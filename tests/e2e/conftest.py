"""The four services as real processes, on their own fresh resources."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import isolation
from tests.support.isolation import Resources
from tests.support.procs import Stack, supervised


@pytest.fixture(scope="module")
def e2e_resources() -> Iterator[Resources]:
    with isolation.provisioned("e2e") as res:
        yield res


@pytest.fixture(scope="module")
def stack(e2e_resources: Resources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir: Path = tmp_path_factory.mktemp("e2e-logs")
    with supervised(e2e_resources.env(), log_dir) as running:
        yield running.start_all()
