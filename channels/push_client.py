"""The pyfcm and google-auth side of the push channel: `FcmClient`, one POST per send.

pyfcm is used with three changes: the endpoint base comes from the settings (pyfcm has no
setting for it); its HTTP adapter has no retries (pyfcm's default retries 502/503 with backoff);
`send_request` POSTs once and never sleeps (pyfcm's sleeps on Retry-After and calls itself
again). The OAuth token request also goes out once (google-auth would retry 5xx/429 with
backoff) with the timeout, and fails on the first non-200 answer with `TokenEndpointError`.
This is the only module that imports pyfcm and google-auth, so processes that never send push
(the ingress) never load them.
"""

from __future__ import annotations

from typing import Any

import google.auth.transport.requests
import requests
from google.oauth2 import service_account
from pyfcm import FCMNotification
from requests.adapters import HTTPAdapter

from settings import Settings

from .push_errors import TokenEndpointError

__all__ = ["FCM_SCOPE", "FcmClient", "build_fcm_client"]

#: The OAuth scope FCM v1 needs.
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


class _TokenRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with our timeout, that fails on the first non-200 answer
    (google-auth's token client would otherwise retry 5xx/429 three times, sleeping between)."""

    def __init__(self, session: requests.Session, timeout_s: float) -> None:
        super().__init__(session)
        self._timeout_s = timeout_s

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):  # type: ignore[override]
        response = super().__call__(
            url, method=method, body=body, headers=headers, timeout=self._timeout_s, **kwargs
        )
        if response.status != 200:
            raise TokenEndpointError(response.status, response.headers, response.data)
        return response


def _session(adapter: HTTPAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class FcmClient(FCMNotification):
    """pyfcm pointed at `endpoint` (FCM or the sandbox), one POST per send, never sleeping."""

    def __init__(
        self,
        *,
        endpoint: str,
        project_id: str,
        credentials: service_account.Credentials,
        timeout_s: float,
    ) -> None:
        super().__init__(
            credentials=credentials, project_id=project_id, adapter=HTTPAdapter(max_retries=0)
        )
        self.FCM_END_POINT_BASE = endpoint.rstrip("/") + "/v1/projects"
        # pyfcm prefers the credentials' project over ours; fix the URL here instead.
        self._fcm_end_point = f"{self.FCM_END_POINT_BASE}/{project_id}/messages:send"
        self.timeout_s = timeout_s
        self._token_request = _TokenRequest(_session(HTTPAdapter(max_retries=0)), timeout_s)

    def _get_access_token(self) -> str:
        """A fresh Bearer token; raises TokenEndpointError or google.auth errors unwrapped
        (pyfcm wraps them all in InvalidDataError, losing the status)."""
        self.credentials.refresh(self._token_request)
        return self.credentials.token

    def send_request(self, payload: Any = None, timeout: Any = None) -> requests.Response:
        """One POST: no sleep on Retry-After, no second try (the caller classifies)."""
        session = self.requests_session  # fetches a token when the cached one is stale
        response = session.post(self.fcm_end_point, data=payload, timeout=self.timeout_s)
        if response.status_code == 401:
            self.thread_local.token_expiry = 0  # the next attempt fetches a fresh token
        return response

    def forget_token(self) -> None:
        """Drop this thread's cached Bearer token (after a failed token request)."""
        if getattr(self.thread_local, "requests_session", None) is not None:
            self.thread_local.token_expiry = 0


def build_fcm_client(settings: Settings) -> FcmClient:
    """An FcmClient from the settings; ValueError when the credentials cannot be used."""
    try:
        credentials = service_account.Credentials.from_service_account_file(
            settings.fcm_credentials, scopes=[FCM_SCOPE]
        )
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"NOTIFY_FCM_CREDENTIALS: cannot load the service-account file: {type(exc).__name__}: {exc}"
        ) from exc
    project_id = settings.fcm_project_id or getattr(credentials, "project_id", None) or ""
    if not project_id:
        raise ValueError(
            "NOTIFY_FCM_PROJECT_ID unset and the service-account file names no project_id"
        )
    return FcmClient(
        endpoint=settings.fcm_endpoint,
        project_id=project_id,
        credentials=credentials,
        timeout_s=settings.provider_timeout_s,
    )
