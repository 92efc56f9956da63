"""A real Prometheus scrapes the four running services and finds the key series."""

from __future__ import annotations

from tests.infra.prometheus_server import JOBS, PrometheusServer
from tests.support.eventually import eventually_sync

# What the dashboards and alerts cannot do without, with the job that must export it.
KEY_SERIES = {
    'zephyr_queue_messages{job="vote-worker",queue="votes"}': "vote-worker",
    'zephyr_queue_consumers{job="vote-worker",queue="votes"}': "vote-worker",
    'zephyr_queue_messages{job="vote-worker",queue="votes.dead"}': "vote-worker",
    'zephyr_dependency_up{job="poll-api",dependency="postgres"}': "poll-api",
    'zephyr_dependency_up{job="ws-gateway",dependency="rabbitmq"}': "ws-gateway",
    'zephyr_dependency_up{job="audit-sink",dependency="postgres"}': "audit-sink",
    'zephyr_poll_api_http_requests_total{status="2xx"}': "poll-api",
    'zephyr_poll_api_http_requests_total{status="4xx"}': "poll-api",
    # declared, no timeouts yet: checked below as a family
    "zephyr_poll_api_http_timeouts_total": None,
    "zephyr_ws_gateway_connections": "ws-gateway",
    "zephyr_ws_gateway_votes_accepted_total": "ws-gateway",
    'zephyr_ws_gateway_frames_received_total{type="vote"}': "ws-gateway",
    "zephyr_ws_gateway_tally_push_latency_seconds_count": "ws-gateway",
    "zephyr_vote_worker_votes_recorded_total": "vote-worker",
    'zephyr_messages_published_total{destination="votes",outcome="confirmed"}': "ws-gateway",
    'zephyr_messages_consumed_total{queue="votes"}': "vote-worker",
    'zephyr_messages_consumed_total{queue="audit"}': "audit-sink",
    'zephyr_db_query_duration_seconds_count{job="vote-worker"}': "vote-worker",
    'zephyr_db_query_duration_seconds_count{job="poll-api"}': "poll-api",
    'zephyr_db_query_duration_seconds_count{job="audit-sink"}': "audit-sink",
    'zephyr_db_pool_connections{state="max"}': None,
    'zephyr_poll_api_polls{status="open"}': "poll-api",
    "zephyr_memory_limit_bytes": None,
    "process_resident_memory_bytes": None,
}


def test_every_service_is_scraped(prometheus: PrometheusServer) -> None:
    def all_up() -> bool:
        up = prometheus.query("up")
        return {r["metric"]["job"] for r in up if r["value"][1] == "1"} == set(JOBS.values())

    eventually_sync(all_up, timeout=90, interval=0.5)


def test_key_series_are_found(prometheus: PrometheusServer) -> None:
    missing: dict[str, str | None] = {}

    def found_all() -> bool:
        missing.clear()
        for selector, job in KEY_SERIES.items():
            if selector == "zephyr_poll_api_http_timeouts_total":
                continue
            result = prometheus.query(selector)
            jobs = {r["metric"].get("job") for r in result}
            if not result or (job is not None and job not in jobs):
                missing[selector] = job
        return not missing

    try:
        eventually_sync(found_all, timeout=90, interval=0.5)
    except AssertionError:
        raise AssertionError(f"series not found: {missing}") from None
    # Every service reports its pool and memory limit; each gauge value is meaningful.
    for metric in ("zephyr_memory_limit_bytes", 'zephyr_db_pool_connections{state="max"}'):
        values = prometheus.query(metric)
        assert all(float(r["value"][1]) > 0 for r in values), values
    pools = {r["metric"]["job"] for r in prometheus.query("zephyr_db_pool_connections")}
    assert pools == {"poll-api", "vote-worker", "audit-sink"}
    dependencies = prometheus.query("zephyr_dependency_up")
    assert dependencies and all(r["value"][1] == "1" for r in dependencies), dependencies
    # The vote pipeline counted the traffic the fixture drove.
    recorded = prometheus.query("sum(zephyr_vote_worker_votes_recorded_total)")
    assert float(recorded[0]["value"][1]) >= 1
    families = prometheus.api("label/__name__/values")
    assert "zephyr_ws_gateway_tally_push_latency_seconds_bucket" in families


def test_alert_rules_load_and_stay_quiet_on_a_healthy_stack(prometheus: PrometheusServer) -> None:
    def evaluated() -> list[dict[str, object]] | None:
        groups = prometheus.api("rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        # lastEvaluation is the zero time until the first evaluation.
        if rules and all(not str(r["lastEvaluation"]).startswith("0001") for r in rules):
            return rules
        return None

    rules = eventually_sync(evaluated, timeout=90, interval=0.5)
    assert isinstance(rules, list)
    assert {r["health"] for r in rules} == {"ok"}, [r for r in rules if r["health"] != "ok"]
    names = {r["name"] for r in rules if r["type"] == "alerting"}
    assert {"ZephyrDeadLetters", "ZephyrDependencyDown", "ZephyrVotesNoConsumer"} <= names
    # A healthy stack: the dependency, consumer and dead-letter alerts are not even pending.
    active = {a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"]}
    assert not active & {"ZephyrDeadLetters", "ZephyrDependencyDown", "ZephyrVotesNoConsumer"}
