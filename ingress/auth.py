"""Who may connect to the ingress, and who sent each frame (docs/security.md).

With `NOTIFY_CURVE_SERVER_SECRET` (or `_FILE`) set, ROUTER and XPUB are CURVE servers and a ZAP
handler (pyzmq's `ThreadAuthenticator`, with this module's callback) admits only keys of the
registry (store/keyring.py): on the ROUTER (ZAP domain "router") keys that may send, on the XPUB
(domain "xpub") keys that may subscribe. A peer without a registered key is refused at the
handshake. Each ROUTER frame then carries its peer's key (ZMQ's "User-Id" metadata, the Z85
public key), which the router checks against the event's user. The registry is read again every
REFRESH_S; when a key was revoked, the ingress rebinds its sockets, so every peer handshakes
anew and the revoked one is refused: its connections are gone within seconds.
"""

from __future__ import annotations

import logging
import threading
import time

import zmq
from zmq.auth.thread import ThreadAuthenticator

from store import Grant, Store

__all__ = ["REFRESH_S", "ROUTER_DOMAIN", "XPUB_DOMAIN", "Gate"]

log = logging.getLogger(__name__)

#: How often the key registry is read again.
REFRESH_S = 2.0
ROUTER_DOMAIN = "router"
XPUB_DOMAIN = "xpub"


class Gate:
    """The ingress's CURVE keys and the registry's grants, kept fresh; the ZAP callback."""

    def __init__(self, store: Store, secret: str) -> None:
        self._store = store
        self.secret = secret
        self._grants: dict[str, Grant] = {}
        self._version = -1
        self._lock = threading.Lock()
        self._auth: ThreadAuthenticator | None = None
        self._next_refresh = 0.0
        #: Keys admitted at a handshake and still registered: a key gone from the registry
        #: since was revoked, and its connections must go.
        self._admitted: set[str] = set()

    @property
    def secured(self) -> bool:
        return bool(self.secret)

    def start(self, context: zmq.Context) -> None:
        """Start the ZAP handler (CURVE only) and read the registry."""
        if not self.secured:
            return
        self.refresh()
        self._auth = ThreadAuthenticator(context, log=logging.getLogger("ingress.zap"))
        self._auth.start()
        for domain in (ROUTER_DOMAIN, XPUB_DOMAIN):
            self._auth.configure_curve_callback(domain, credentials_provider=self)

    def stop(self) -> None:
        if self._auth is not None:
            self._auth.stop()

    def secure(self, sock: zmq.Socket, domain: str) -> None:
        """Make `sock` a CURVE server authenticating in `domain` (nothing without a secret)."""
        if not self.secured:
            return
        secret = self.secret.encode()
        sock.curve_secretkey = secret
        sock.curve_publickey = zmq.curve_public(secret)
        sock.curve_server = True
        sock.zap_domain = domain.encode()

    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP: admit `key` (Z85) on `domain`? A key not known yet may be brand new: the
        registry's version is read again (one GET; the keys only when it changed) before the
        key is refused. Not throttled: a key made a moment after another one's handshake must
        be known at its own."""
        public = key.decode("ascii", "replace")
        if self.grant(public) is None:
            self._load()
        grant = self.grant(public)
        allowed = grant is not None and (
            grant.may_send if domain == ROUTER_DOMAIN else grant.may_subscribe
        )
        if allowed:
            with self._lock:
                self._admitted.add(public)
        else:
            log.warning("refused a %s peer: key %s…", domain, key[:8].decode("ascii", "replace"))
        return allowed

    def grant(self, public: str) -> Grant | None:
        with self._lock:
            return self._grants.get(public)

    def _load(self) -> None:
        """Read the registry when its version changed; a Redis outage keeps the grants."""
        try:
            version = self._store.keyring.version()
            if version == self._version:
                return
            grants = self._store.keyring.all()
        except Exception as exc:  # the old grants stay until Redis answers
            log.warning("key registry not read: %s", type(exc).__name__)
            return
        with self._lock:
            self._grants, self._version = grants, version

    def refresh(self, now: float | None = None) -> set[str]:
        """Read the registry again (at most every REFRESH_S); returns the admitted keys that were
        revoked since (their connections must go)."""
        now = time.monotonic() if now is None else now
        if not self.secured or now < self._next_refresh:
            return set()
        self._next_refresh = now + REFRESH_S
        self._load()
        with self._lock:
            revoked = self._admitted - set(self._grants)
            self._admitted -= revoked
        return revoked
