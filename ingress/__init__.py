"""Sockets and routing only: ROUTER :5571, XPUB :5570, presence, dedup claim, enqueue, ack relay."""

from .routing import BatchResult, EventRouter, Inbound
from .server import Ingress

__all__ = ["BatchResult", "EventRouter", "Inbound", "Ingress"]
