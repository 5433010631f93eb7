"""Push senders behind one interface: ``await sender.send(push)``.

``LogSender`` (dev and test) records what it would send; ``ApnsSender``, ``FcmSender`` and
``HmsSender`` build each provider's HTTP request (``request(push)``: method, URL, headers,
JSON body) and post it with httpx. ``ProviderSender`` picks the adapter by the device's
platform. Which one a runtime uses is the setting ``push_backend`` (``log`` or
``providers``); credentials are settings too (``QUANZI_PUSH_*``). The provider calls are
not exercised by the tests: their request building is.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import structlog

from app.config import Settings

log = structlog.get_logger()


@dataclass(frozen=True)
class Push:
    user_id: str
    platform: str  # apns | fcm | hms
    token: str
    kind: str  # chat | money | games | social
    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderRequest:
    method: str
    url: str
    headers: dict[str, str]
    json: dict[str, Any]


class Sender(Protocol):
    async def send(self, push: Push) -> None: ...


class LogSender:
    """Logs and keeps the last pushes it would have sent (dev, test)."""

    def __init__(self, keep: int = 1000) -> None:
        self.sent: deque[Push] = deque(maxlen=keep)

    async def send(self, push: Push) -> None:
        self.sent.append(push)
        log.info("push_logged", user_id=push.user_id, platform=push.platform, kind=push.kind)


class _HttpAdapter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def request(self, push: Push) -> ProviderRequest:
        raise NotImplementedError

    async def send(self, push: Push) -> None:
        req = self.request(push)
        async with httpx.AsyncClient(timeout=10.0) as client:
            r = await client.request(req.method, req.url, headers=req.headers, json=req.json)
        if r.status_code >= 400:
            log.warning("push_refused", platform=push.platform, status=r.status_code, body=r.text[:200])


class ApnsSender(_HttpAdapter):
    """Apple Push Notification service (HTTP/2 provider API, token-based auth)."""

    def request(self, push: Push) -> ProviderRequest:
        s = self.settings
        host = "api.sandbox.push.apple.com" if s.push_apns_sandbox else "api.push.apple.com"
        return ProviderRequest(
            "POST",
            f"https://{host}/3/device/{push.token}",
            {
                "authorization": f"bearer {s.push_apns_jwt}",
                "apns-topic": s.push_apns_topic,
                "apns-push-type": "alert",
                "apns-collapse-id": push.kind,
            },
            {"aps": {"alert": {"title": push.title, "body": push.body}, "sound": "default"}, **push.data},
        )


class FcmSender(_HttpAdapter):
    """Firebase Cloud Messaging, HTTP v1 API."""

    def request(self, push: Push) -> ProviderRequest:
        s = self.settings
        return ProviderRequest(
            "POST",
            f"https://fcm.googleapis.com/v1/projects/{s.push_fcm_project}/messages:send",
            {"authorization": f"Bearer {s.push_fcm_access_token}"},
            {
                "message": {
                    "token": push.token,
                    "notification": {"title": push.title, "body": push.body},
                    "data": {k: str(v) for k, v in push.data.items()},
                }
            },
        )


class HmsSender(_HttpAdapter):
    """Huawei Push Kit, v1 messages API."""

    def request(self, push: Push) -> ProviderRequest:
        s = self.settings
        return ProviderRequest(
            "POST",
            f"https://push-api.cloud.huawei.com/v1/{s.push_hms_app_id}/messages:send",
            {"authorization": f"Bearer {s.push_hms_access_token}"},
            {
                "validate_only": False,
                "message": {
                    "token": [push.token],
                    "android": {
                        "notification": {"title": push.title, "body": push.body, "click_action": {"type": 3}}
                    },
                    "data": json.dumps(push.data) if push.data else "",
                },
            },
        )


class ProviderSender:
    """The real providers, by the device's platform."""

    def __init__(self, settings: Settings) -> None:
        self.adapters: dict[str, _HttpAdapter] = {
            "apns": ApnsSender(settings),
            "fcm": FcmSender(settings),
            "hms": HmsSender(settings),
        }

    async def send(self, push: Push) -> None:
        await self.adapters[push.platform].send(push)


def make_sender(settings: Settings) -> Sender:
    if settings.push_backend == "providers":
        return ProviderSender(settings)
    return LogSender()
