"""Prometheus counters of the ingress (served on NOTIFY_METRICS_PORT, default 9570)."""

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACKS_DROPPED",
    "END_TO_END",
    "ENQUEUE",
    "ACKS_SENT",
    "EVENTS",
    "FRAMES_REJECTED",
    "PRESENCE",
    "PUBLISHED",
    "RELAY_DROPPED",
    "SUBSCRIPTIONS",
]

EVENTS = Counter("notify_ingress_events_total", "Valid UserEvents received", ["priority", "route"])
FRAMES_REJECTED = Counter(
    "notify_ingress_rejected_total", "Frames refused (invalid or garbage)", ["reason", "acked"]
)
ACKS_SENT = Counter("notify_ingress_acks_sent_total", "EventAcks written to the ROUTER")
ACKS_DROPPED = Counter(
    "notify_ingress_acks_dropped_total", "EventAcks for a container that is not connected"
)
PUBLISHED = Counter("notify_ingress_published_total", "Frames published on XPUB", ["source"])
SUBSCRIPTIONS = Counter(
    "notify_ingress_subscriptions_total", "XPUB (un)subscriptions seen", ["kind"]
)
RELAY_DROPPED = Counter(
    "notify_ingress_relay_dropped_total", "Relay messages from workers dropped", ["reason"]
)
PRESENCE = Gauge("notify_ingress_present_users", "Users with a live XPUB subscriber here")
ENQUEUE = Histogram(
    "notify_ingress_enqueue_seconds",
    "From receipt to the QUEUED ack (claim, chain published, claim marked)",
    ["priority"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
END_TO_END = Histogram(
    "notify_ingress_end_to_end_seconds",
    "From receipt to the final ack written to the container, by status",
    ["status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400),
)
