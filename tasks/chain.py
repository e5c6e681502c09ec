"""Builds the escalation chain of one round: `chain(attempt(link 0), …, attempt(link n), finish())`.

The first link gets the carry (which holds the job: frame and plan, once); each next link gets
its predecessor's carry as first argument, and names only its plan index. Every link's errback is
`finish_on_error`. Task names are fixed: `notify.attempt`, `notify.finish`, `notify.finish_on_error`.
"""

from __future__ import annotations

from celery import chain
from celery.canvas import Signature
from kombu import Producer

from proto import ChannelType

from .app import app
from .contract import Carry, Job, Link
from .queues import queue_for

__all__ = ["ChainProducer", "apply_chain", "argsrepr", "attempt_signature", "build_chain"]


def argsrepr(job: Job, channel: int | None, tries: int = 0) -> str:
    """What Flower shows of a link: user, channel, round, try and event; never an address,
    token or payload."""
    name = ChannelType.Name(channel) if channel is not None else "finish"
    # The short fields first: Flower cuts a long Args column, and the event id is long.
    return f"user={job.user_id} channel={name} round={job.round} try={tries} event={job.event_id}"


def attempt_signature(job: Job, link: Link, carry: Carry | None = None) -> Signature:
    """One attempt link on its channel's queue; with `carry` for the first link of a chain."""
    channel = link.resolved if link.resolved is not None else job.plan[link.index].channel
    args = (carry.to_dict(), link.to_dict()) if carry is not None else (link.to_dict(),)
    return app.signature("notify.attempt", args=args).set(
        queue=queue_for(job.priority, channel), argsrepr=argsrepr(job, channel, link.tries)
    )


def build_chain(carry: Carry, start: int = 0, first: Link | None = None) -> Signature:
    """The chain over `carry.job.plan[start:]`, ending in finish; errors in any link lead to
    `finish_on_error`. `start` > 0 continues a round whose earlier links already ran; `first`
    is the first link as it was when it parked itself (its tries, its wait)."""
    job = carry.job
    first = first or Link(start)
    links: list[Signature] = [
        attempt_signature(
            job,
            first if index == first.index else Link(index),
            carry if index == first.index else None,
        )
        for index in range(first.index, len(job.plan))
    ]
    finish_args = (carry.to_dict(),) if not links else ()
    links.append(
        app.signature("notify.finish", args=finish_args).set(
            queue=queue_for(job.priority, None), argsrepr=argsrepr(job, None)
        )
    )
    canvas = chain(*links)
    canvas.link_error(
        app.signature("notify.finish_on_error").set(queue=queue_for(job.priority, None))
    )
    return canvas


class ChainProducer(Producer):
    """A kombu Producer that `apply_chain` can hand to a chain's first link: copying the link's
    options (Celery deep-copies them when it clones a signature) keeps this producer, where a
    copied Producer would have no channel."""

    def __deepcopy__(self, memo: dict) -> ChainProducer:
        return self


def apply_chain(canvas: Signature, producer: ChainProducer, **options) -> None:
    """`canvas.apply_async(producer=producer, **options)` as it reads. Celery's `_chain.run`
    takes `producer` and drops it, so the first link would go out on a pooled producer (the
    app's connection and timeouts, outside any publish batch); the producer goes on the first
    link's own options instead (docs/upstream.md)."""
    first = canvas.tasks[0] if hasattr(canvas, "tasks") else canvas
    first.options["producer"] = producer
    canvas.apply_async(**options)
