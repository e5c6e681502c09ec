"""A chain published by the previous release (task contract version 1) still runs to its end on
this release's worker: a chain may live 24 h across a deploy."""

from __future__ import annotations

import base64
import time

import pytest
from celery import chain

from client import make_event
from proto import encode_event
from tasks import app, queue_for
from tests.helpers import claim_as_queued, job_of, wait_for_claim
from tests.tasks.helpers_v1 import v1_link_jobs

pytestmark = pytest.mark.broker


def test_a_version_1_chain_is_delivered_and_finished(pipeline, new_id, store, settings):
    user = new_id("v1")
    store.directory.update(
        user,
        discord_webhook=f"{pipeline.url}/discord/api/webhooks/41/{user}",
        slack_webhook=f"{pipeline.url}/slack/services/T/B/{user}",
    )
    pipeline.state.set_switch("discord", "permanent")
    event = make_event(user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False), ("SLACK", False)])
    received_ms = int(time.time() * 1000)
    claim_as_queued(store, job_of(event, settings.ingress_id, received_ms))
    frame = base64.b64encode(encode_event(event)).decode()
    jobs = v1_link_jobs(event, frame, settings.ingress_id, received_ms, ["DISCORD", "SLACK"])
    carry = {"v": 1, "outcomes": [], "delivered": None}
    links = [
        app.signature("notify.attempt", args=(carry, jobs[0])).set(queue="critical.discord"),
        app.signature("notify.attempt", args=(jobs[1],)).set(queue="critical.slack"),
        app.signature("notify.finish", args=(jobs[2],)).set(queue=queue_for(2, None)),
    ]
    canvas = chain(*links)
    canvas.link_error(app.signature("notify.finish_on_error").set(queue="critical.control"))
    canvas.apply_async()

    claim = wait_for_claim(store, user, event.event_id, "DELIVERED")
    assert claim["delivered_via"] == "SLACK"
    log = [(e["channel"], e["kind"]) for e in store.delivery_log.read(user, event.event_id)]
    assert log == [("DISCORD", "permanent"), ("SLACK", "delivered")]
