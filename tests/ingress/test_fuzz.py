"""Fuzz the ingress: its router in-process (hypothesis), and a running ingress process fed
thousands of hostile frames from several peers, valid events interleaved."""

from __future__ import annotations

import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client import Dealer
from ingress import Inbound
from proto import AckStatus, decode_frame
from tests.fuzzing import classify, hostile_frame_strategy, hostile_frames, valid_event


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(hostile_frame_strategy(), min_size=1, max_size=20))
def test_the_router_answers_every_invalid_event_with_a_usable_id(router, frames) -> None:
    result = router.handle([Inbound(b"fuzzer", f) for f in frames], lambda user: False)
    errors = {
        ack.event_id
        for ack in (decode_frame(frame) for _, frame in result.acks)
        if ack.status == AckStatus.ACK_ERROR
    }
    for frame in frames:
        owed = classify(frame).owed_error
        if owed:
            assert owed in errors


def test_a_running_ingress_survives_hostile_peers_and_delivers_the_valid(
    pipeline, settings, store, new_id, ingress
):
    users = [new_id("fuzzvalid") for _ in range(4)]
    for user in users:
        store.directory.update(
            user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/3/{user}"
        )
    valid = [valid_event(users[n % 4]) for n in range(20)]
    hostile = hostile_frames(seed=11, count=2000)
    peers = [
        Dealer(settings.router_connect, identity=f"fz-{uuid.uuid4().hex[:6]}".encode())
        for _ in range(4)
    ]
    owed = {h.owed_error for h in hostile if h.owed_error}
    answered: dict[str, int] = {}
    try:
        for n, item in enumerate(hostile):
            peers[n % 4].send_frame(item.frame)
            if n % 100 == 0:
                peers[n % 4].send(valid[n // 100])
        deadline = time.monotonic() + 60
        delivered = {e.event_id for e in valid}
        while time.monotonic() < deadline and (
            not owed <= set(answered)
            or any(answered.get(e) != AckStatus.DELIVERED for e in delivered)
        ):
            for n, peer in enumerate(peers):
                while (ack := peer.recv_ack(0.01)) is not None:
                    if answered.get(ack.event_id) != AckStatus.DELIVERED:
                        answered[ack.event_id] = ack.status
                for event in valid[n::4]:  # a container resends until final
                    if answered.get(event.event_id) not in (
                        AckStatus.DELIVERED,
                        AckStatus.ACK_ERROR,
                    ):
                        peer.send(event)
    finally:
        for peer in peers:
            peer.close()
    assert ingress.poll() is None, "the ingress is still running"
    assert all(answered.get(e.event_id) == AckStatus.DELIVERED for e in valid)
    assert owed <= set(answered)
    assert all(answered[e] == AckStatus.ACK_ERROR for e in owed)
