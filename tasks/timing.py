"""How long each step may take, so that a killed worker's attempt runs again within 30 s and a
live attempt is never handed out twice (docs/reliability.md, "Timing"). Every wait (backoff,
retry-after, the WEB ack poll, the next round) is in the due set, so the broker holds no task
that is not running, and the visibility timeout only has to cover one run:

  provider call          <= NOTIFY_PROVIDER_TIMEOUT_S (at most MAX_PROVIDER_TIMEOUT_S = 10)
  push, all devices      <= push.SEND_BUDGET_S (8) + one provider call           = 18 s
  soft time limit        20 s  (SoftTimeLimitExceeded -> a transient outcome)
  hard time limit        22 s  (the pool process is killed)
  send lease             23 s  (outlives any live send; gone before a redelivered copy runs)
  visibility timeout     25 s  (the broker hands an unacked message out again after this)
  restore scan           every 1 s
  => a killed worker's in-flight attempt runs again within 25 + 1 = 26 s.
"""

from __future__ import annotations

from settings import MAX_PROVIDER_TIMEOUT_S

__all__ = [
    "MAX_PROVIDER_TIMEOUT_S",
    "RESTORE_INTERVAL_S",
    "SEND_LEASE_S",
    "SOFT_TIME_LIMIT_S",
    "TIME_LIMIT_S",
    "VISIBILITY_TIMEOUT_S",
]

#: A task is interrupted (SoftTimeLimitExceeded) after this long.
SOFT_TIME_LIMIT_S = 20
#: ... and its pool process killed after this long.
TIME_LIMIT_S = 22
#: How long one attempt holds its event's send lease.
SEND_LEASE_S = 23
#: After this long unacked, the Redis broker hands a message out again.
VISIBILITY_TIMEOUT_S = 25
#: How often a worker looks for messages past their visibility timeout.
RESTORE_INTERVAL_S = 1
