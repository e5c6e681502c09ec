"""The one settings object: every knob of every process, read from the environment.

Names are fixed by DESIGN.md ("Configuration"); each field is documented in
docs/configuration.md. Build it once per process with `Settings()` and pass it down.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LOCAL_STACK_ENV_FILE", "Settings", "connect_address"]

#: The longest provider timeout the task time limits allow (tasks/timing.py).
MAX_PROVIDER_TIMEOUT_S = 10.0
#: The longest CRITICAL deadline: an event's claim (48 h) outlives it by a day.
MAX_CRITICAL_DEADLINE_S = 86400
#: Written by `notify up`: the sandbox provider settings of the local stack.
LOCAL_STACK_ENV_FILE = ".notify-data/stack.env"


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
    #: Most frames drained from the ROUTER into one batch.
    ingress_batch: int = 500
    #: XPUB addresses of every ingress, comma-separated, for the session server to subscribe to;
    #: empty = this deployment's one ingress (NOTIFY_INGRESS_XPUB).
    sessions_xpub: str = ""

    # Channels and providers.
    session_secret: str = ""
    telegram_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    sendgrid_api_key: str = ""
    sendgrid_host: str = "https://api.sendgrid.com"
    email_from: str = "notifications@example.com"
    fcm_credentials: str = ""
    fcm_project_id: str = ""
    fcm_endpoint: str = "https://fcm.googleapis.com"
    #: Timeout of every provider call, seconds (DESIGN: within 10 s).
    provider_timeout_s: float = 10.0

    # Delivery policy.
    critical_deadline_s: int = 86400
    normal_ttl_s: int = 600
    web_ack_timeout_s: int = 30
    telegram_active_s: int = 900
    default_channels_normal: str = "ACTIVE_SESSION,TELEGRAM,EMAIL"
    default_channels_critical: str = "ACTIVE_SESSION,TELEGRAM,PUSH,EMAIL"
    #: Transient retries of one channel within one round before escalating.
    channel_retries: int = 3
    #: First retry backoff in seconds; doubles per retry, with jitter, capped at 60.
    retry_base_s: float = 2.0
    #: First pause between two CRITICAL rounds; doubles per round, capped at 1 h.
    round_backoff_s: float = 30.0
    #: A QUEUED event whose chain showed no sign of life for this long, and whose queues are
    #: empty, is started again by the scheduler (a chain the broker lost); the old round is
    #: fenced out. Above the visibility timeout + a restore scan + the longest task (26 s).
    stall_s: float = 45.0

    # Input limits.
    max_payload_bytes: int = 65536
    max_frame_bytes: int = 262144

    @field_validator("provider_timeout_s")
    @classmethod
    def _fits_the_time_limits(cls, value: float) -> float:
        if not 0 < value <= MAX_PROVIDER_TIMEOUT_S:
            raise ValueError(f"must be above 0 and at most {MAX_PROVIDER_TIMEOUT_S:g} s")
        return value

    @field_validator("critical_deadline_s")
    @classmethod
    def _claims_outlive_it(cls, value: int) -> int:
        if not 0 < value <= MAX_CRITICAL_DEADLINE_S:
            raise ValueError(
                f"must be above 0 and at most {MAX_CRITICAL_DEADLINE_S} s (claims live 48 h)"
            )
        return value

    @field_validator("default_channels_normal", "default_channels_critical")
    @classmethod
    def _known_channels(cls, value: str) -> str:
        from proto import ChannelType  # the contract's names: a typo stops the process at start

        unknown = [
            n.strip() for n in value.split(",") if n.strip().upper() not in ChannelType.keys()
        ]
        if unknown:
            raise ValueError(
                f"unknown channel {unknown[0]!r}; one of {', '.join(ChannelType.keys())}"
            )
        return value

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        # Frozen model: fill derived defaults through object.__setattr__ once, at build time.
        if not self.celery_broker_url:
            object.__setattr__(self, "celery_broker_url", self.redis_url)
        if not self.ingress_id:
            port = urlsplit(self.ingress_router.replace("*", "localhost")).port or 5571
            object.__setattr__(self, "ingress_id", f"{socket.gethostname()}:{port}")
        return self

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
