"""The rows of the keynote targets (capacity knee, CPU per vote, the broadcast baseline) for
`bench.report`'s table."""

from __future__ import annotations

from typing import Any

Row = tuple[str, str, str, str, str]


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def keynote_rows(capacity: dict[str, Any] | None, broadcast: dict[str, Any] | None) -> list[Row]:
    out: list[Row] = []
    if capacity:
        f = capacity["figures"]
        knee = f.get("knee_offered_per_s")
        if "knee_offered_per_s" in f:
            out.append(
                (
                    "capacity knee: first of two failed steps (offered votes/s)",
                    "≥ 12,000",
                    "not reached (ladder top sustained)" if knee is None else f"{knee:,}",
                    _met(knee is None or knee >= 12_000),
                    "capacity",
                )
            )
        cpu = f.get("cpu_ms_per_vote_near_5000")
        if cpu:
            per_service = ", ".join(
                f"{name} {cpu.get(name)}"
                for name in ("ws_gateway", "vote_worker", "audit_sink", "poll_api")
                if name in cpu
            )
            out.append(
                (
                    f"CPU ms per vote at {cpu['offered_per_s']:,}/s: services / with servers",
                    "≤ 0.2 ms",
                    f"{cpu.get('services')} / {cpu.get('all')} ({per_service})",
                    _met(cpu.get("services") is not None and cpu["services"] <= 0.2),
                    "capacity",
                )
            )
    if broadcast:
        f = broadcast["figures"]
        z, b = f["zephyr_vote_to_last_screen"], f["bare_broadcast_to_last_screen"]
        ratio = f.get("ratio_of_medians")
        out.append(
            (
                "vote → last of 10,000 screens vs bare `broadcast()` (medians)",
                "≤ 1.25x",
                f"{z.get('p50_ms')} vs {b.get('p50_ms')} ms ({ratio}x)",
                _met(ratio is not None and ratio <= 1.25),
                "broadcast",
            )
        )
    return out


def wordcloud_rows(doc: dict[str, Any] | None) -> list[Row]:
    """Issue 13's word-cloud burst: correctness, time to the final top 100, CPU per answer."""
    if not doc:
        return []
    f, c = doc["figures"], doc["checks"]
    counted = bool(c["every_answer_counted"] and c["every_screen_final"])
    cpu = f["cpu_ms_per_answer"]
    return [
        (
            "word cloud burst: every answer stored, the latest counted, every screen the top 100",
            "all",
            f"{c['stored']:,} of {c['accepted']:,} stored, every screen final: "
            f"{c['every_screen_final']}",
            _met(counted),
            "wordcloud",
        ),
        (
            "word cloud burst: last answer → every screen shows the final top 100",
            "—",
            f"{f['last_screen_final_after_last_answer_s']} s",
            "—",
            "wordcloud",
        ),
        (
            "word cloud burst: CPU ms per answer, vote-worker / services / with servers",
            "—",
            f"{cpu.get('vote_worker')} / {cpu.get('services')} / {cpu.get('all')}",
            "—",
            "wordcloud",
        ),
    ]
