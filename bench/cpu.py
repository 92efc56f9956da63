"""CPU per unit of work, per process group, from /proc: the four services, the servers they
use (PostgreSQL, RabbitMQ, Redis) and the load generators, sampled around a window.

    meter = CpuMeter.of(bench_stack, load)
    before = meter.sample()
    ...  # the window
    per_vote_ms = meter.per_unit_ms(before, meter.sample(), votes)

PostgreSQL's backends come and go: its group is every `postgres` process alive at each sample
(a backend that ended inside the window loses its share, so the figure is a floor for it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench import procstat

SERVERS = {"postgres": ("postgres",), "rabbitmq": ("beam.smp",), "redis": ("redis-server",)}


@dataclass
class CpuMeter:
    services: dict[str, int]  # service name -> pid
    load_pids: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, bs: Any, load: Any = None) -> CpuMeter:
        services = {name: svc.proc.pid for name, svc in bs.stack.services.items() if svc.proc}
        pids = [p.pid for p in getattr(load, "_procs", []) if p.pid is not None]
        return cls(services, pids)

    def sample(self) -> dict[str, float]:
        out = {name: procstat.cpu_of([pid]) for name, pid in self.services.items()}
        for name, comms in SERVERS.items():
            out[name] = procstat.cpu_of(procstat.pids_named(*comms))
        out["load_generators"] = procstat.cpu_of(self.load_pids)
        return out

    def per_unit_ms(
        self, before: dict[str, float], after: dict[str, float], units: int
    ) -> dict[str, float | None]:
        """ms of CPU per unit for each group, `services` (the four together) and `all`
        (everything but the load generators)."""
        if units <= 0:
            return {name: None for name in after}
        delta = {name: max(0.0, after[name] - before.get(name, 0.0)) for name in after}
        out: dict[str, float | None] = {
            name: round(seconds * 1000 / units, 4) for name, seconds in sorted(delta.items())
        }
        services = sum(delta[name] for name in self.services)
        servers = sum(delta[name] for name in SERVERS)
        out["services"] = round(services * 1000 / units, 4)
        out["all"] = round((services + servers) * 1000 / units, 4)
        return out
