"""Publish/subscribe between the service and connected clients, across workers.

``hub.publish(channel, message)`` delivers a JSON-able dict to every local and remote
subscriber of ``channel``; ``async with hub.subscribe(channels) as sub`` gives a
``Subscription`` to read from. Two backends behind one interface:

- ``MemoryHub`` (``memory://``): one process, queues only.
- ``RedisHub`` (``redis://``): Redis pub/sub; one subscriber connection per worker that
  (un)subscribes channels as local clients come and go, and fans in to local queues.
- ``ShardedRedisHub`` (``redis+cluster://``): the same on a Redis Cluster with sharded
  pub/sub (``SPUBLISH``/``SSUBSCRIBE``): a message goes only to the shard that owns its
  channel's slot instead of being broadcast to every node, and a worker holds one
  subscriber connection per shard it listens on.

Channels are named by the caller (``user_channel(user_id)``); the hub adds the
deployment's key prefix.

``publish_each`` (chat's send batches) serialises each message once for all its
recipients. On ``RedisHub`` it publishes the whole batch as one Redis message on the
deployment's batch channel, which every worker listens to: each worker parses the batch
once and hands each message to its local subscribers of the message's channels, as a
``Wire`` (the dict and its JSON text, which the gateway writes to sockets as is). That is
one Redis message per batch per worker instead of one per recipient; every worker sees
every batch, which suits the few workers of one Redis (a Redis Cluster uses sharded
per-channel publishes instead). A subscriber that falls too far behind is marked
``overflowed`` and should reconnect and sync, rather than slow everyone down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog

from app.redis import is_cluster

log = structlog.get_logger()

QUEUE_MAX = 2000


USER_CHANNEL_PREFIX = "user:"


def user_channel(user_id: str) -> str:
    return f"{USER_CHANNEL_PREFIX}{user_id}"


class Wire(dict[str, Any]):
    """A frame from the hub with its JSON text (``text``): sockets get the text as is.
    Shared by every local subscriber of its channels: never change it."""

    __slots__ = ("text",)

    def __init__(self, frame: dict[str, Any], text: str) -> None:
        super().__init__(frame)
        self.text = text


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def dumps(message: Any) -> str:
    """A frame's JSON text, as the hub and the gateway write it (orjson; the standard
    library's text for what orjson refuses, such as integers beyond 64 bits)."""
    try:
        return orjson.dumps(message, default=str, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


def loads(text: str | bytes) -> Any:
    """JSON text to Python (orjson; the standard library's reading of what orjson refuses,
    such as NaN or integers beyond 64 bits). Raises ValueError."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class Subscription:
    def __init__(self, channels: tuple[str, ...]) -> None:
        self.channels = channels
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_MAX)
        self.overflowed = False

    def deliver(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()


class Hub:
    """The interface; ``_local`` holds this process's subscriptions per channel."""

    def __init__(self) -> None:
        self._local: dict[str, set[Subscription]] = defaultdict(set)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self.publish_many([channel], message)

    async def publish_many(self, channels: Iterable[str], message: dict[str, Any]) -> None:
        raise NotImplementedError

    async def publish_each(self, items: Iterable[tuple[Iterable[str], dict[str, Any]]]) -> None:
        """Publish several messages, each to its channels, in order (one round trip on Redis)."""
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def subscribe(self, channels: Iterable[str]) -> AsyncIterator[Subscription]:
        sub = Subscription(tuple(channels))
        await self._add(sub)
        try:
            yield sub
        finally:
            await self._remove(sub)

    async def _add(self, sub: Subscription) -> None:
        for ch in sub.channels:
            self._local[ch].add(sub)

    async def _remove(self, sub: Subscription) -> None:
        for ch in sub.channels:
            subs = self._local.get(ch)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._local[ch]

    def _dispatch(self, channel: str, message: dict[str, Any]) -> None:
        for sub in tuple(self._local.get(channel, ())):
            sub.deliver(message)

    def local_subscribers(self, channel: str) -> int:
        return len(self._local.get(channel, ()))


class MemoryHub(Hub):
    async def publish_many(self, channels: Iterable[str], message: dict[str, Any]) -> None:
        for ch in channels:
            self._dispatch(ch, message)

    async def publish_each(self, items: Iterable[tuple[Iterable[str], dict[str, Any]]]) -> None:
        for channels, message in items:
            for ch in channels:
                self._dispatch(ch, message)


class RedisHub(Hub):
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        super().__init__()
        self._redis = redis
        self._prefix = prefix + "hub:"
        self._batch_channel = prefix + "hub-batch"
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # Every worker hears every batch (``publish_each``); the subscription also keeps
        # the listener's connection open when nothing else is subscribed.
        await self._pubsub.subscribe(self._batch_channel)
        self._task = asyncio.create_task(self._listen(), name="redis-hub-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()

    async def publish_many(self, channels: Iterable[str], message: dict[str, Any]) -> None:
        """One channel: a PUBLISH on it (only the workers listening to it hear it). Several
        (a group's members): one message on the batch channel, as ``publish_each`` — the
        payload and its channel list cross once, where a PUBLISH per member cost Redis a
        command each and the client a command's packing each (~100 for a group)."""
        targets = list(channels)
        if len(targets) == 1:
            await self._redis.publish(self._prefix + targets[0], dumps(message))
        elif targets:
            await self.publish_each([(targets, message)])

    async def publish_each(self, items: Iterable[tuple[Iterable[str], dict[str, Any]]]) -> None:
        """One Redis message for the whole batch on the batch channel (see the module)."""
        data = encode_batch(items)
        if data is not None:
            await self._redis.publish(self._batch_channel, data)

    async def _add(self, sub: Subscription) -> None:
        async with self._lock:
            new = [ch for ch in sub.channels if ch not in self._local]
            await super()._add(sub)
            if new:
                await self._pubsub.subscribe(*(self._prefix + ch for ch in new))

    async def _remove(self, sub: Subscription) -> None:
        async with self._lock:
            await super()._remove(sub)
            gone = [ch for ch in sub.channels if ch not in self._local]
            if gone:
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(*(self._prefix + ch for ch in gone))

    async def _listen(self) -> None:
        n = len(self._prefix)
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub_listener_error")
                await asyncio.sleep(0.5)
                continue
            if msg is None or msg.get("type") != "message":
                continue
            channel = msg["channel"]
            if channel == self._batch_channel:
                self._dispatch_batch(msg["data"])
                continue
            try:
                payload = loads(msg["data"])
            except ValueError:
                continue
            self._dispatch(channel[n:], payload)

    def _dispatch_batch(self, data: bytes | str) -> None:
        try:
            batch = decode_batch(data)
        except ValueError:
            log.warning("hub_bad_batch", size=len(data))
            return
        for channels, text in batch:
            local = [ch for ch in channels if ch in self._local]
            if not local:
                continue
            try:
                frame = Wire(loads(text), text)
            except ValueError:
                continue
            for ch in local:
                self._dispatch(ch, frame)


class ShardedRedisHub(RedisHub):
    """Sharded pub/sub on a Redis Cluster: ``SPUBLISH`` to the channel's shard (a
    non-transactional cluster pipeline: one round trip per shard involved), ``SSUBSCRIBE``
    through redis-py's cluster pub/sub, which keeps one connection per shard and follows
    slots that move."""

    # A message waits at most this long behind a quiet shard in the listener's round robin.
    POLL_S = 0.01

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._task = asyncio.create_task(self._listen(), name="redis-hub-listener")

    async def publish_many(self, channels: Iterable[str], message: dict[str, Any]) -> None:
        await self.publish_each([(channels, message)])

    async def publish_each(self, items: Iterable[tuple[Iterable[str], dict[str, Any]]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for channels, message in items:
                data = dumps(message)
                for ch in channels:
                    pipe.spublish(self._prefix + ch, data)
            if len(pipe):
                await pipe.execute()

    async def _add(self, sub: Subscription) -> None:
        async with self._lock:
            new = [ch for ch in sub.channels if ch not in self._local]
            await Hub._add(self, sub)
            if new:
                await self._pubsub.ssubscribe(*(self._prefix + ch for ch in new))

    async def _remove(self, sub: Subscription) -> None:
        async with self._lock:
            await Hub._remove(self, sub)
            gone = [ch for ch in sub.channels if ch not in self._local]
            if gone:
                with contextlib.suppress(Exception):
                    await self._pubsub.sunsubscribe(*(self._prefix + ch for ch in gone))

    async def _listen(self) -> None:
        n = len(self._prefix)
        while True:
            if not self._local:
                await asyncio.sleep(self.POLL_S)  # nothing subscribed: no shard to read
                continue
            try:
                msg = await self._pubsub.get_sharded_message(
                    ignore_subscribe_messages=True, timeout=self.POLL_S
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub_listener_error")
                await asyncio.sleep(0.5)
                continue
            if msg is None or msg.get("type") != "smessage":
                continue
            try:
                payload = loads(msg["data"])
            except ValueError:
                continue
            self._dispatch(msg["channel"][n:], payload)


def encode_batch(items: Iterable[tuple[Iterable[str], dict[str, Any]]]) -> str | None:
    """A batch as one payload: a JSON header line ``[[channels, length], …]``, then the
    messages' JSON texts back to back (each serialised once; lengths in characters).
    None when empty."""
    header: list[tuple[list[str], int]] = []
    texts: list[str] = []
    for channels, message in items:
        targets = list(channels)
        if targets:
            text = dumps(message)
            header.append((targets, len(text)))
            texts.append(text)
    if not header:
        return None
    return "".join([dumps(header), "\n", *texts])


def decode_batch(data: bytes | str) -> list[tuple[list[str], str]]:
    """``encode_batch``'s (channels, JSON text) pairs. Raises ValueError."""
    text = data.decode() if isinstance(data, bytes) else data
    head, sep, body = text.partition("\n")
    if not sep:
        raise ValueError("no header")
    out = []
    at = 0
    for channels, size in loads(head):
        out.append((channels, body[at : at + size]))
        at += size
    if at != len(body):
        raise ValueError("lengths do not match the body")
    return out


def make_hub(redis_url: str, redis: aioredis.Redis, prefix: str) -> Hub:
    if redis_url.startswith("memory://"):
        return MemoryHub()
    if is_cluster(redis_url):
        return ShardedRedisHub(redis, prefix)
    return RedisHub(redis, prefix)
