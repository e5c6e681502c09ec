"""Prometheus counters of the ingress (served on NOTIFY_METRICS_PORT, default 9570)."""

from prometheus_client import Counter, Gauge

__all__ = [
    "ACKS_DROPPED",
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
