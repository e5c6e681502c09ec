"""The one settings object: every knob of every process, read from the environment.

Each field is documented in docs/configuration.md. Build it once per process with `Settings()`
and pass it down.
"""

from __future__ import annotations

import os
import socket
import sys
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


@lru_cache(maxsize=16)
def _type_names(listed: str) -> frozenset[str]:
    """A comma-separated list of EventType (or ChannelType) names, read once per distinct text."""
    return frozenset(n.strip().upper() for n in listed.split(",") if n.strip())


__all__ = [
    "LOCAL_STACK_ENV_FILE",
    "ExposureError",
    "Settings",
    "connect_address",
    "guard_bind",
    "load_settings",
    "store_answers_or_exit",
]

#: The longest provider timeout the task time limits allow (tasks/timing.py).
MAX_PROVIDER_TIMEOUT_S = 10.0
#: The longest CRITICAL deadline: an event's claim (48 h) outlives it by a day.
MAX_CRITICAL_DEADLINE_S = 86400
#: The channels NOTIFY_CHANNELS_OFF may name: the providers (WEB and ACTIVE_SESSION are ours).
PROVIDER_CHANNELS = ("TELEGRAM", "EMAIL", "PUSH", "DISCORD", "SLACK")
#: Written by `notify up`: the sandbox provider settings of the local stack.
LOCAL_STACK_ENV_FILE = ".notify-data/stack.env"


#: Broker URL schemes kombu knows: Redis (plain, TLS, a unix socket, Sentinel) and AMQP.
REDIS_BROKERS = ("redis", "rediss", "redis+socket", "sentinel")
AMQP_BROKERS = ("amqp", "amqps", "pyamqp")

#: Hosts that only this machine can reach.
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class ExposureError(ValueError):
    """A listener asked to be reachable from other hosts with nothing to authenticate peers."""


def guard_bind(host: str, secured: bool, insecure: bool, what: str, fix: str) -> str:
    """Protected mode, as Redis does it: the host to listen on.

    Secured (CURVE keys configured): as asked. Not secured: `*` (the default) means loopback
    only; any other non-loopback host refuses with ExposureError saying how to fix it, unless
    `insecure` (NOTIFY_INSECURE=1), which the caller warns about on every start.
    """
    if secured or insecure or host in LOOPBACK_HOSTS:
        return host
    if host == "*":
        return "127.0.0.1"
    raise ExposureError(
        f"{what}: refusing to listen on {host or 'every interface'} without authentication; "
        f"{fix}, or bind 127.0.0.1, or set NOTIFY_INSECURE=1 to accept the risk"
    )


def zmq_host(address: str) -> str:
    """The host of a ZMQ tcp address: `tcp://*:5571` -> `*`."""
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0]


def connect_address(bind: str) -> str:
    """The address a client connects to for a bind address: `tcp://*:5571` -> `tcp://127.0.0.1:5571`."""
    return bind.replace("://*:", "://127.0.0.1:").replace("://0.0.0.0:", "://127.0.0.1:")


class Settings(BaseSettings):
    """Every setting of the pipeline, from `NOTIFY_*` variables (and `CELERY_BROKER_URL`)."""

    # `notify up` writes the local stack's sandbox defaults to this file, so a second terminal
    # talks to the same sandbox; real environment variables always win over it.
    model_config = SettingsConfigDict(
        env_prefix="NOTIFY_",
        extra="ignore",
        frozen=True,
        env_file=os.environ.get("NOTIFY_ENV_FILE", LOCAL_STACK_ENV_FILE),
    )

    # Stores and broker.
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_broker_url: str = Field(
        default="", validation_alias=AliasChoices("CELERY_BROKER_URL", "NOTIFY_CELERY_BROKER_URL")
    )
    #: Prefix of every Redis key this project writes (store and Redis broker alike).
    key_prefix: str = "notify:"
    #: Folder of the embedded Redis (AOF on) that `notify up` starts when none answers.
    data_dir: str = ".notify-data"

    # Ingress.
    ingress_router: str = "tcp://*:5571"
    ingress_xpub: str = "tcp://*:5570"
    ingress_id: str = ""
    #: Prometheus metrics port of the ingress; 0 turns the endpoint off.
    metrics_port: int = 9570
    #: Prometheus metrics port of a worker (all its pool processes); 0 turns it off.
    worker_metrics_port: int = 9571
    #: Where a worker's metrics listen: loopback, unless a scraper elsewhere must reach them.
    worker_metrics_host: str = "127.0.0.1"
    #: Most frames drained from the ROUTER into one batch.
    ingress_batch: int = 500
    #: XPUB addresses of every ingress, comma-separated, for the session server to subscribe to;
    #: empty = this deployment's one ingress (NOTIFY_INGRESS_XPUB).
    sessions_xpub: str = ""

    # The local stack (`notify up`): ports of the processes that are not the ingress's.
    sandbox_port: int = 8590
    sessions_port: int = 8570
    flower_port: int = 5555
    #: The provider sandbox `notify demo` steers; `notify up` writes it to the env file.
    sandbox_url: str = "http://127.0.0.1:8590"

    # Channels and providers.
    session_secret: str = ""
    #: Basic auth of Flower, "user:password" (docker compose and `notify up` set one).
    flower_basic_auth: str = ""

    # Authentication and exposure (docs/security.md).
    #: The ingress's CURVE secret key (Z85), or a file holding it; set: ROUTER and XPUB
    #: authenticate every peer against the key registry.
    curve_server_secret: str = ""
    curve_server_secret_file: str = ""
    #: What clients (containers, `notify send`, the session server) use to reach a CURVE ingress.
    curve_server_public: str = ""
    curve_client_public: str = ""
    curve_client_secret: str = ""
    #: Listen on other hosts without authentication (a warning on every start).
    insecure: bool = False

    # Limits (docs/security.md): token buckets per sending key and per user, in each ingress.
    rate_per_key: float = 50.0
    burst_per_key: int = 200
    rate_per_user: float = 50.0
    burst_per_user: int = 200
    #: A user's events not yet final, at most.
    max_live_per_user: int = 2000
    #: Distinct XPUB topics an ingress tracks as presence, at most.
    max_topics: int = 100_000
    telegram_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    sendgrid_api_key: str = ""
    sendgrid_host: str = "https://api.sendgrid.com"
    email_from: str = "notifications@example.com"
    fcm_credentials: str = ""
    fcm_project_id: str = ""
    fcm_endpoint: str = "https://fcm.googleapis.com"
    #: Timeout of every provider call, seconds (the task time limits allow 10 s).
    provider_timeout_s: float = 10.0

    # Delivery policy.
    critical_deadline_s: int = 86400
    normal_ttl_s: int = 600
    web_ack_timeout_s: int = 30
    #: The session servers keep each user's last N events of the last M seconds in Redis, so
    #: a browser that reconnects with the offset it last saw gets what it missed.
    session_history_size: int = Field(default=100, ge=1, le=1000)  # a socket queues 1000
    session_history_s: int = Field(default=300, ge=1, le=86_400)
    telegram_active_s: int = 900
    default_channels_normal: str = "ACTIVE_SESSION,TELEGRAM,EMAIL"
    default_channels_critical: str = "ACTIVE_SESSION,TELEGRAM,PUSH,EMAIL"
    #: Channels the operator turned off (ChannelType names): no provider client is built for
    #: them and their attempts fail permanently (escalating). A provider channel left without
    #: credentials must be listed here, or a worker serving its queues refuses to start.
    channels_off: str = ""
    #: Transient retries of one channel within one round before escalating.
    channel_retries: int = 3
    #: First retry backoff in seconds; doubles per retry, with jitter, capped at 60.
    retry_base_s: float = 2.0
    #: First pause between two CRITICAL rounds; doubles per round, capped at 1 h.
    round_backoff_s: float = 30.0
    #: CRITICAL events of these types ask for a person's acknowledgement: a provider accepting
    #: the message is not the end; escalation goes on until the person acks (or the deadline).
    human_ack_types: str = "POSITION_LIQUIDATED,ORDER_REJECTED,STRATEGY_ERROR,EVENT_ERROR"
    #: How long after a provider accepted such an event the person has to acknowledge it
    #: before the next channel is tried.
    human_ack_wait_s: float = 120.0
    #: Where browsers reach the session server: the base of one-click acknowledgement links
    #: (default: this machine's session server, http://127.0.0.1:<NOTIFY_SESSIONS_PORT>).
    public_url: str = ""
    #: Flood guard: beyond this many NORMAL events of one type for one user within the window,
    #: the rest of the window's go out as one digest per channel at its end (0: no guard).
    flood_limit: int = Field(default=20, ge=0)
    flood_window_s: int = Field(default=60, ge=1, le=3600)
    #: Seconds added to the clock that users' quiet hours are read by (drills and tests).
    clock_offset_s: float = 0.0
    #: Circuit breaker per provider, shared by the workers: transient failures seen by this many
    #: different users within the window open it, and attempts on that provider skip to the
    #: next channel for the cool-down; then one probe goes through.
    breaker_failures: int = 5
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 30.0
    #: A QUEUED event whose chain showed no sign of life for this long, and whose queues are
    #: empty, is started again by the scheduler (a chain the broker lost); the old round is
    #: fenced out. Above the visibility timeout + a restore scan + the longest task (26 s).
    stall_s: float = 45.0

    # Operations.
    #: Log lines as plain text, or one JSON object per line.
    log_format: Literal["text", "json"] = "text"

    # Input limits.
    max_payload_bytes: int = 65536
    max_frame_bytes: int = 262144

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value.encode()) < 32:
            raise ValueError(
                "must be at least 32 bytes (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return value

    @field_validator("provider_timeout_s")
    @classmethod
    def _fits_the_time_limits(cls, value: float) -> float:
        if not 0 < value <= MAX_PROVIDER_TIMEOUT_S:
            raise ValueError(f"must be above 0 and at most {MAX_PROVIDER_TIMEOUT_S:g} s")
        return value

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, value: str) -> str:
        return _url(value, ("redis", "rediss", "unix"))

    @field_validator("celery_broker_url")
    @classmethod
    def _a_broker_url(cls, value: str) -> str:
        return _url(value, REDIS_BROKERS + AMQP_BROKERS) if value else value

    @field_validator("human_ack_types")
    @classmethod
    def _known_event_types(cls, value: str) -> str:
        from proto import EventType

        for name in (n.strip() for n in value.split(",") if n.strip()):
            if name.upper() not in EventType.keys():
                raise ValueError(
                    f"unknown event type {name!r}; one of {', '.join(EventType.keys())}"
                )
        return value

    @field_validator("telegram_api_url", "sendgrid_host", "fcm_endpoint", "sandbox_url")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        return _url(value, ("http", "https"))

    @field_validator("public_url")
    @classmethod
    def _an_http_url_or_derived(cls, value: str) -> str:
        return _url(value, ("http", "https")) if value else value

    @field_validator("ingress_router", "ingress_xpub")
    @classmethod
    def _a_zmq_address(cls, value: str) -> str:
        if not _tcp_address(value):
            raise ValueError(f"must be tcp://HOST:PORT, e.g. tcp://*:5571 (got {value!r})")
        return value

    @field_validator("sessions_xpub")
    @classmethod
    def _zmq_addresses(cls, value: str) -> str:
        for address in (a.strip() for a in value.split(",") if a.strip()):
            if not (_tcp_address(address) or (address.startswith("ipc://") and len(address) > 6)):
                raise ValueError(
                    "must be comma-separated tcp://HOST:PORT (or ipc://PATH) addresses, "
                    f"e.g. tcp://10.0.0.5:5570,tcp://10.0.0.6:5570 (got {address!r})"
                )
        return value

    @field_validator("critical_deadline_s")
    @classmethod
    def _claims_outlive_it(cls, value: int) -> int:
        if not 0 < value <= MAX_CRITICAL_DEADLINE_S:
            raise ValueError(
                f"must be above 0 and at most {MAX_CRITICAL_DEADLINE_S} s (claims live 48 h)"
            )
        return value

    @field_validator("channels_off")
    @classmethod
    def _providers_only(cls, value: str) -> str:
        # WEB and ACTIVE_SESSION are the service's own: only a provider can be turned off.
        ours = sorted(_type_names(value) & {"WEB", "ACTIVE_SESSION"})
        if ours:
            raise ValueError(
                f"{ours[0]} cannot be turned off; one of {', '.join(PROVIDER_CHANNELS)}"
            )
        return value

    @field_validator("default_channels_normal", "default_channels_critical", "channels_off")
    @classmethod
    def _known_channels(cls, value: str) -> str:
        from proto import ChannelType  # the contract's names: a typo stops the process at start

        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n.upper() not in ChannelType.keys()]
        if unknown:
            raise ValueError(
                f"unknown channel {unknown[0]!r}; one of {', '.join(ChannelType.keys())}"
            )
        return value

    @model_validator(mode="after")
    def _providers_complete(self) -> Settings:
        """A provider pointed somewhere else than its real API (a sandbox, a proxy) needs its
        credentials too: half a configuration stops the process at start, rather than failing
        every delivery. The real API with no credentials is checked where it matters: a worker
        serving that channel's queues refuses to start unless NOTIFY_CHANNELS_OFF lists it
        (tasks/startup.py)."""
        needs = (
            ("telegram_api_url", "telegram_token"),
            ("sendgrid_host", "sendgrid_api_key"),
            ("fcm_endpoint", "fcm_credentials"),
        )
        for where, what in needs:
            pointed = getattr(self, where) != type(self).model_fields[where].default
            if pointed and not getattr(self, what):
                raise ValueError(
                    f"{_variable(where)} is set, so {_variable(what)} must be too "
                    "(or unset both and list the channel in NOTIFY_CHANNELS_OFF)"
                )
        # The credentials file is read by the workers only (the other processes need not have
        # it mounted): a worker that cannot read it says so when it builds its FCM client.
        return self

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        # Frozen model: fill derived defaults through object.__setattr__ once, at build time.
        if not self.celery_broker_url:
            # The store's Redis is the broker too; kombu spells a unix socket redis+socket://.
            broker = self.redis_url.replace("unix://", "redis+socket://", 1)
            object.__setattr__(self, "celery_broker_url", broker)
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://127.0.0.1:{self.sessions_port}")
        if not self.ingress_id:
            port = urlsplit(self.ingress_router.replace("*", "localhost")).port or 5571
            object.__setattr__(self, "ingress_id", f"{socket.gethostname()}:{port}")
        return self

    @property
    def curve_secret(self) -> str:
        """The ingress's CURVE secret key (Z85): NOTIFY_CURVE_SERVER_SECRET, else the file's."""
        if self.curve_server_secret:
            return self.curve_server_secret.strip()
        if self.curve_server_secret_file:
            with open(self.curve_server_secret_file, encoding="ascii") as file:
                return file.read().strip()
        return ""

    def asks_for_ack(self, event_type: str, critical: bool) -> bool:
        """Does an event of this type (an EventType name) wait for a person's acknowledgement?"""
        return critical and event_type in _type_names(self.human_ack_types)

    @property
    def channels_off_names(self) -> frozenset[str]:
        """NOTIFY_CHANNELS_OFF as ChannelType names."""
        return _type_names(self.channels_off)

    @property
    def broker_is_redis(self) -> bool:
        """Is the Celery broker a Redis (else RabbitMQ, AMQP)?"""
        return urlsplit(self.celery_broker_url).scheme in REDIS_BROKERS

    @property
    def router_connect(self) -> str:
        """Where a container connects its DEALER."""
        return connect_address(self.ingress_router)

    @property
    def xpub_connect(self) -> str:
        """Where a live session connects its SUB."""
        return connect_address(self.ingress_xpub)

    @property
    def session_xpubs(self) -> list[str]:
        """Every ingress XPUB the session server subscribes to."""
        listed = [address.strip() for address in self.sessions_xpub.split(",") if address.strip()]
        return listed or [self.xpub_connect]


def _tcp_address(value: str) -> bool:
    host, _, port = value.removeprefix("tcp://").rpartition(":")
    return value.startswith("tcp://") and bool(host) and port.isdigit()


def _url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    local = parts.scheme in ("unix", "redis+socket")  # a socket path, no host
    if parts.scheme not in schemes or not (parts.netloc or local):
        starts = ", ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(f"must be a URL starting with {starts} (got {_redacted(value)!r})")
    return value


def _redacted(url: str) -> str:
    """A URL as an error may show it: without a password (`redis://:***@host`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _variable(field: str) -> str:
    """The environment variable of a settings field (an alias is one already)."""
    if field == "celery_broker_url":
        return "CELERY_BROKER_URL"
    return field if field.isupper() else f"NOTIFY_{field.upper()}"


def load_settings(process: str) -> Settings:
    """The settings, or exit 2 with one line on stderr naming the variable and the problem:
    what every process does at start (a configuration error stops it there)."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else ""
        where = f"{_variable(field)}: " if field else ""
        problem = str(first["msg"]).removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        print(f"{process}: bad configuration: {where}{problem}{more}", file=sys.stderr)
        raise SystemExit(2) from None


#: How long a process waits at start for its Redis to answer (one restarting alongside it).
REDIS_WAIT_S = 3.0


def store_answers_or_exit(settings: Settings, process: str, wait_s: float = REDIS_WAIT_S) -> None:
    """Return once the store's Redis answers PING; else exit 2 with one line naming
    NOTIFY_REDIS_URL: what every long-running process does at start."""
    from store import EmbeddedRedisError, wait_for_redis  # the one package that talks to Redis

    try:
        wait_for_redis(settings.redis_url, wait_s)
    except EmbeddedRedisError:
        print(
            f"{process}: no Redis answers at NOTIFY_REDIS_URL={_redacted(settings.redis_url)} "
            f"within {wait_s:g} s (start it, or fix the URL)",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
