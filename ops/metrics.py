"""The metrics catalogue: Prometheus names with the lienthong_ prefix, base units, _total.

Defined once here so dashboards and alert rules have one list to follow. Only the runtime's
observer (router/amqp/observe.py) updates the package metrics, from each message's typed
outcome; the stages never count. Labels are bounded sets (outcomes, kinds, reason codes,
the directory's systems). A process exposes them with `serve(port)` (`lienthong run --metrics-port`).
Under `lienthong run --processes N` the workers write them to a folder of the supervisor's
(prometheus_client's multiprocess mode) and the supervisor serves the sum: counters and
histograms add up, and each gauge names how the processes' values combine (`multiprocess_mode`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

PACKAGES = Counter(
    "lienthong_packages_total",
    "Packages decided by the route stage, by kind and outcome (accepted, rejected, duplicate, parked).",
    ["kind", "outcome"],
)
REJECTIONS = Counter(
    "lienthong_rejections_total",
    "Refusals at intake by reason code (the closed set of the README): whole packages and refused recipients.",
    ["code"],
)
VALIDATION_WARNINGS = Counter(
    "lienthong_validation_warnings_total",
    "Validation warnings on submitted packages, by submitting system and reason code (a conformance figure).",
    ["system", "code"],
)
DELIVERIES = Counter(
    "lienthong_deliveries_total",
    "Delivery attempts by recipient system and result (delivered, retrying, parked, duplicate).",
    ["system", "result"],
)
PARKED = Counter(
    "lienthong_parked_total", "Messages parked for an operator, by stage and reason code.", ["stage", "code"]
)
STAGE_SECONDS = Histogram(
    "lienthong_stage_duration_seconds",
    "Time one message spends in a stage's handler (parse, checks, sink), by stage.",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WINDOWS = Counter(
    "lienthong_windows_total",
    "Batches of messages a worker took at once, the stage reading the ledger once for each "
    "(router/pipeline/window.py), by stage.",
    ["stage"],
)
WINDOW_MESSAGES = Counter(
    "lienthong_window_messages_total",
    "Messages taken in those batches, by stage (divided by lienthong_windows_total: the mean window).",
    ["stage"],
)
SIGNATURE_CHAIN_CACHE = Counter(
    "lienthong_signature_chain_cache_total",
    "Certificate-path lookups of signature verification by result (hit: answered by a worker's cache, "
    "miss: validated by pyhanko); counted per package outcome.",
    ["result"],
)
READY = Gauge(
    "lienthong_consumer_ready",
    "1 while the consumer is connected and consuming, 0 while reconnecting (several worker processes: "
    "1 only while every live one is).",
    ["consumer"],
    multiprocess_mode="livemin",
)
FAILURE_DECISIONS = Counter(
    "lienthong_failure_decisions_total",
    "Failure decisions carried out by the runtime: stage, failure kind, action (retry, park:<CODE>, park_later).",
    ["stage", "failure", "action"],
)
WORKER_RESTARTS = Counter(
    "lienthong_worker_restarts_total",
    "Worker processes of `lienthong run --processes N` restarted by the supervisor after dying, by role.",
    ["role"],
)
RECONNECTS = Counter("lienthong_reconnects_total", "Connection losses followed by a reconnect.", ["consumer"])
WEBHOOK_BREAKER_STATE = Gauge(
    "lienthong_webhook_breaker_state",
    "Circuit breaker of a push destination (system): 0 closed, 1 half-open (one probe allowed), 2 open "
    "(several worker processes: the worst of the live ones).",
    ["system"],
    multiprocess_mode="livemax",
)
WEBHOOK_BREAKER_TRANSITIONS = Counter(
    "lienthong_webhook_breaker_transitions_total",
    "Circuit breaker transitions of a push destination (system), by the state entered (closed, half_open, open).",
    ["system", "to"],
)
AXIS_API_REQUESTS = Counter(
    "lienthong_axis_api_requests_total",
    "Requests to the axis-compatible HTTP API by operation and axis ErrorCode (0 = success; 15 = wrong credentials).",
    ["operation", "code"],
)
AXIS_API_SECONDS = Histogram(
    "lienthong_axis_api_request_duration_seconds",
    "Time to answer one axis API request (sendEdoc includes waiting for intake's verdict), by operation.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
AXIS_CLIENT_CALLS = Counter(
    "lienthong_axis_client_calls_total",
    "Calls of the hub to the national axis (adapters/axis/client.py) by operation and result "
    "(ok, refused: the axis answered a non-zero ErrorCode, down: no usable answer).",
    ["operation", "result"],
)
AXIS_POLLED = Counter(
    "lienthong_axis_polled_total",
    "Packages the axis poller handled, by messagetype and outcome (submitted, duplicate, refused, waiting).",
    ["messagetype", "outcome"],
)


def serve(port: int, addr: str = "127.0.0.1") -> None:
    start_http_server(port, addr=addr)
