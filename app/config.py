"""Typed settings, read once from ``QUANZI_*`` environment variables: the one tree.

Grouped by concern (runtime, storage, secrets, auth, HTTP exposure, money limits, …);
content's settings are the ``content`` group (``QUANZI_CONTENT_*``) and the game rules
file is ``games_rules_file`` (``QUANZI_GAMES_RULES_FILE``). Production refuses to start
on a weak secret (``check_secret``: every secret, one rule) and says so in one line
(``ConfigError``, printed by the CLI); dev and test run on the embedded defaults.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-secret-change-me-0123456789abcdef"
DEFAULT_SERVICE_TOKEN = "dev-service-token"
DEFAULT_PHONE_KEY = "dev-phone-hmac-key"
DEFAULT_CARD_TOKEN_KEY = "dev-card-token-key"
DEFAULTS = {DEFAULT_SECRET, DEFAULT_SERVICE_TOKEN, DEFAULT_PHONE_KEY, DEFAULT_CARD_TOKEN_KEY}
SECRET_MIN_CHARS = 32
SECRET_MIN_DISTINCT = 8

# Who may read the interactive docs (/docs, /redoc, /openapi.json) or /metrics.
Exposure = Literal["public", "service_token", "off"]


class ConfigError(Exception):
    """The settings cannot be used; the message is one line naming the setting(s)."""


def check_secret(value: str) -> str | None:
    """Why ``value`` is too weak for a production secret, or None. One rule for every
    secret: not a shipped default, at least 32 characters, not a short repeated pattern."""
    if value in DEFAULTS:
        return "is a development default"
    if len(value) < SECRET_MIN_CHARS:
        return f"is shorter than {SECRET_MIN_CHARS} characters"
    if len(set(value)) < SECRET_MIN_DISTINCT:
        return f"has fewer than {SECRET_MIN_DISTINCT} distinct characters"
    return None


class ContentSettings(BaseSettings):
    """Content's group of the settings (``QUANZI_CONTENT_*``): ``settings.content``."""

    model_config = SettingsConfigDict(env_prefix="QUANZI_CONTENT_", extra="ignore")

    # posts (text ≤ 5000 characters and ≤ 9 images are the API contract, in the schemas)
    edit_window_s: int = Field(default=15 * 60, ge=0)
    report_threshold: int = Field(default=3, ge=1)
    # feed: hot = points · 2^(−age / half-life); PGC points multiplied by the boost
    hot_half_life_h: float = Field(default=12.0, gt=0)
    pgc_boost: float = Field(default=1.5, gt=0)
    # links to these domains (and their subdomains) are not "outside contact"
    allowed_domains: tuple[str, ...] = ("bank.example", "quanzi.example")
    # A post's product card links to one of these hosts (or a subdomain) over https, or
    # into the app through one of these deep-link schemes (``quanzi://product/…``).
    product_link_hosts: tuple[str, ...] = ("bank.example",)
    product_link_schemes: tuple[str, ...] = ("quanzi",)
    # media
    media_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    media_max_pixels: int = Field(default=25_000_000, gt=0)
    media_original_px: int = Field(default=2048, gt=0)
    media_thumb_px: int = Field(default=320, gt=0)
    # How long caches may keep an image (not immutable: a removed post's images stop being served)
    media_cache_s: int = Field(default=300, ge=0)
    # creator leaderboard points
    points_per_like: float = 1.0
    points_per_accepted_answer: float = 10.0
    points_per_conversion: float = 20.0
    # product cards: a purchase is credited to the member's last click within this window
    attribution_window_h: float = Field(default=7 * 24.0, gt=0)
    # feed "for you": how many posts each source (followed, hot, product posts) offers
    for_you_candidates: int = Field(default=100, ge=10, le=1000)


class ConsoleSettings(BaseSettings):
    """The staff consoles' group (``QUANZI_CONSOLE_*``): ``settings.console``."""

    model_config = SettingsConfigDict(env_prefix="QUANZI_CONSOLE_", extra="ignore")

    # A session ends after this long without a request, and at the latest this long after sign-in.
    session_idle_s: int = Field(default=30 * 60, gt=0)
    session_max_s: int = Field(default=12 * 3600, gt=0)
    page_size: int = Field(default=20, ge=1, le=100)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_", extra="ignore")

    # runtime
    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("var")
    timezone: str = "Asia/Shanghai"
    # Absolute URLs the service hands out (media, share links) start with this; empty: with
    # the request's own scheme and host (a trusted proxy's X-Forwarded-Proto/-Host), see app/urls.py
    public_base_url: str = ""
    log_level: str = "INFO"
    log_json: bool = True
    # dev and test only: business time starts at this instant and stands still until the
    # dev clock moves it (``POST /v1/dev/clock``), so tests are the same at any hour
    clock_start: datetime | None = None

    # storage
    database_url: str = ""  # empty: the embedded PostgreSQL server under data_dir (app/embedded_pg.py)
    # Hot standbys for reads that may be slightly stale (app/replicas.py), comma-separated
    # PostgreSQL URLs; empty: every read goes to the primary.
    database_replica_urls: str = ""
    replica_max_lag_s: float = Field(default=1.0, ge=0)  # a replica further behind is bypassed
    replica_lag_check_s: float = Field(default=1.0, ge=0)  # lag is measured this often per worker
    replica_own_writes_s: float = Field(default=10.0, gt=0)  # a user's last write is remembered this long
    # memory:// (in-process, one worker), redis://host:6379/0, or a Redis Cluster:
    # redis+cluster://host:port[,host:port…] (docs/deployment.md)
    redis_url: str = "memory://"
    redis_prefix: str = "qz:"
    db_pool_size: int = 24  # per worker; plus a quarter of it as overflow
    db_pool_timeout_s: float = 30.0  # then 503 unavailable
    # HTTP requests of a worker that work at once, the rest wait in order (app/admission.py);
    # 0: the pool size
    max_requests_in_flight: int = 0

    # secrets (prod: each must pass ``check_secret``)
    secret_key: str = DEFAULT_SECRET
    service_token: str = DEFAULT_SERVICE_TOKEN
    phone_hmac_key: str = DEFAULT_PHONE_KEY
    card_token_key: str = DEFAULT_CARD_TOKEN_KEY  # HMAC key of the bank's card tokens

    # auth: short-lived access tokens (JWT) and rotating refresh tokens, one session each
    access_token_ttl_s: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)
    # The demo's printed tokens (dev only): a working day, so /docs stays authorized
    # while someone explores; they are real sessions, ended by POST /v1/auth/logout.
    demo_token_ttl_s: int = Field(default=24 * 3600, gt=0)
    otp_ttl_s: int = 300
    # users.last_active_at is written at most this often per user (authenticated requests,
    # socket activity): an activity signal, not a log.
    last_active_every_s: int = Field(default=5 * 60, ge=0)
    # Wrong guesses per (phone, client address) per otp_ttl_s; across all clients per code.
    otp_max_attempts: int = Field(default=5, ge=1)
    otp_max_attempts_total: int = Field(default=50, ge=1)
    # Codes to one phone: otp_free_sends at once, then waits of otp_resend_wait_s doubling up
    # to otp_resend_max_wait_s (service clock); a quiet otp_resend_reset_s starts over.
    otp_free_sends: int = Field(default=3, ge=1)
    otp_resend_wait_s: int = Field(default=60, gt=0)
    otp_resend_max_wait_s: int = Field(default=3600, gt=0)
    otp_resend_reset_s: int = Field(default=24 * 3600, gt=0)
    otp_per_ip_per_hour: int = 1000
    default_phone_region: str = "CN"
    # Words only staff (advisor, moderator, admin, editor) may use in a display name (app/auth/names.py)
    reserved_name_words: tuple[str, ...] = (
        "理财经理",
        "客户经理",
        "理财师",
        "管理员",
        "客服",
        "官方",
        "银行",
        "工作人员",
        "审核员",
        "版主",
        "admin",
        "administrator",
        "official",
        "moderator",
        "mod",
        "staff",
        "support",
        "advisor",
        "bank",
        "service",
        "system",
        "quanzi",
        "圈子",
    )

    # HTTP exposure
    docs_access: Exposure | None = None  # None: public in dev/test, the service token in prod
    metrics_access: Exposure | None = None  # likewise
    # Proxy addresses or networks whose X-Forwarded-For/-Proto/-Host are believed (app/proxy.py);
    # empty: none, not even loopback.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Request bodies other than uploads (multipart, bounded by their routes) above this
    # answer 413 payload_too_large, read no further (app/inputguard.py)
    json_body_max_bytes: int = Field(default=1024 * 1024, gt=0)
    hsts_max_age_s: int = Field(default=365 * 24 * 3600, ge=0)  # sent on requests that came over TLS

    # periodic jobs (``app/jobs.py``): how often a worker looks for due jobs (wall seconds)
    jobs_poll_s: float = Field(default=5.0, gt=0)

    # money (integer fen)
    topup_max_fen: int = Field(default=1_000_000, gt=0)  # one top-up (the bank's or the dev one)
    # POST /v1/wallet/topup (dev and test only): per user per business day
    dev_topup_daily_max_fen: int = Field(default=2_000_000, gt=0)
    transfer_max_fen: int = Field(default=50_000, gt=0)
    # One daily limit on money leaving a wallet to other people: transfers, red packets, …
    # (``app.wallet.service.count_outgoing``), per user per business day.
    outgoing_daily_max_fen: int = Field(default=200_000, gt=0)
    red_packet_max_fen: int = Field(default=20_000, gt=0)
    red_packet_max_count: int = Field(default=100, gt=0)
    pending_ttl_s: int = 24 * 3600
    idempotency_ttl_s: int = 48 * 3600

    # social
    contacts_sync_max: int = Field(default=2000, gt=0)
    # Per-user token bucket on numbers checked that were not already matched (after
    # Signal's contact-discovery limit: a large allowance that refills slowly).
    contacts_bucket_capacity: int = Field(default=50_000, gt=0)
    contacts_bucket_refill_per_day: int = Field(default=5_000, gt=0)
    friend_requests_per_day: int = Field(default=100, gt=0)
    suggestions_max: int = Field(default=50, gt=0)
    # A user's ranked candidates are reused this long (business-clock seconds) while
    # their own friends and contact edges are unchanged; exclusions are always fresh.
    suggestions_cache_s: int = Field(default=30, ge=0)
    referral_reward_fen: int = Field(default=2_000, gt=0)
    referral_redeem_window_days: int = Field(default=7, gt=0)
    referral_rewards_per_year: int = Field(default=10, ge=0)
    advisor_default_capacity: int = Field(default=200, ge=0)

    # profile (app/profile): a tag's weight halves every half-life without new evidence
    profile_tag_half_life_days: float = Field(default=30.0, gt=0)
    # "users like you" (app/insights): bands, k, ε and benchmark returns; unset: the rules
    # shipped with app/insights (rules.toml)
    insights_rules_file: Path | None = None
    # cross-scenario offers (app/offers): at most this many per member per week
    # (Monday 00:00 to Monday, the bank's time zone), across every rule
    offers_per_week: int = Field(default=3, ge=0)

    # chat
    chat_text_max_chars: int = Field(default=4000, gt=0)
    chat_group_max_members: int = Field(default=500, ge=2)  # the creator included
    chat_send_batch_max: int = Field(default=200, gt=0)  # WebSocket sends stored per transaction
    # Messages are kept in month partitions (social/chat/partitions.py): a daily job makes
    # this many months ahead and, when the retention is above 0, drops the months that
    # ended more than that many months ago (0: keep every message).
    chat_message_months_ahead: int = Field(default=2, ge=1)
    chat_message_retention_months: int = Field(default=0, ge=0)

    # realtime (the /v1/ws gateway)
    ws_max_frame_bytes: int = Field(default=64 * 1024, gt=0)  # larger frames get an error frame
    ws_transport_max_bytes: int = Field(default=1024 * 1024, gt=0)  # uvicorn closes (1009) above this
    # permessage-deflate on sockets whose client offers it. Off: chat frames are a few
    # hundred bytes, and compressing each one for each recipient cost about 0.1 ms of
    # service CPU per chat message (chat_groups' relay baseline, 2 workers).
    ws_per_message_deflate: bool = False
    # Idle HTTP keep-alive: longer than a gateway's pool idle time (often 60 s), so the server
    # is not the side that closes a connection the client is about to reuse.
    http_keep_alive_s: int = Field(default=75, gt=0)
    # Drain (SIGTERM): the node stops accepting at once, closes its WebSockets with 1012 and
    # gives requests in flight this long to finish before it exits anyway.
    shutdown_grace_s: float = Field(default=30.0, gt=0)
    ws_heartbeat_s: float = Field(default=25.0, gt=0)  # ping an idle client this often
    ws_heartbeat_misses: int = Field(default=2, ge=1)  # silent intervals before the server closes
    ws_auth_timeout_s: float = Field(default=10.0, gt=0)  # wait this long for a first-frame auth
    ws_send_rate_per_s: float = Field(default=50.0, gt=0)  # per connection: send/sync/read frames
    ws_send_burst: int = Field(default=100, gt=0)
    ws_sync_max: int = Field(default=1000, gt=0)  # messages per sync; more: sync again
    # typing/presence frames: at most one relayed per connection and conversation this often
    ws_typing_every_s: float = Field(default=3.0, ge=0)
    ws_gap_wait_s: float = Field(default=0.2, ge=0)  # hold a push this long for a lower seq, then fetch it

    # offline push (app/push): "log" records what would be sent (dev, test); "providers"
    # posts to APNs / FCM / HMS with the credentials below (prod)
    push_backend: Literal["log", "providers"] = "log"
    push_apns_topic: str = ""  # the app's bundle id
    push_apns_jwt: str = ""  # provider authentication token (ES256 JWT), rotated by operations
    push_apns_sandbox: bool = False
    push_fcm_project: str = ""
    push_fcm_access_token: str = ""
    push_hms_app_id: str = ""
    push_hms_access_token: str = ""

    # content (QUANZI_CONTENT_*) and games
    content: ContentSettings = Field(default_factory=ContentSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    games_rules_file: Path | None = None  # unset: the rules shipped with games/rules
    # Points exchange: where each partner programme is reached (JSON object, programme id →
    # base URL; a programme without one is not connected), how long a call may take, and
    # the longest wait between two attempts of a pending exchange (it doubles up to that).
    points_partner_urls: dict[str, str] = Field(default_factory=dict)
    points_partner_timeout_s: float = Field(default=5.0, gt=0)
    points_exchange_retry_max_s: int = Field(default=3600, gt=0)

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, url: str) -> str:
        from app.redis import CLUSTER_SCHEME, cluster_nodes

        schemes = ("memory://", "redis://", "rediss://", "unix://", CLUSTER_SCHEME)
        if not url.startswith(schemes):
            raise ValueError("expected " + ", ".join(f"{s}…" for s in schemes))
        if url.startswith(CLUSTER_SCHEME):
            cluster_nodes(url)  # raises ValueError naming the bad part
        return url

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_prod(self) -> Settings:
        if self.env == "prod":
            weak = [
                f"QUANZI_{name.upper()} {why}"
                for name in ("secret_key", "service_token", "phone_hmac_key", "card_token_key")
                if (why := check_secret(getattr(self, name))) is not None
            ]
            if weak:
                raise ValueError(
                    "refusing to start in prod: "
                    + "; ".join(weak)
                    + " (generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))')"
                )
            if self.clock_start is not None:
                raise ValueError("refusing to start in prod: QUANZI_CLOCK_START is for dev and test only")
        return self

    def exposure(self, of: Literal["docs", "metrics"]) -> Exposure:
        """Who may read the docs or the metrics: the setting, else public except in prod."""
        chosen = self.docs_access if of == "docs" else self.metrics_access
        return chosen or ("public" if self.is_dev else "service_token")

    @property
    def is_dev(self) -> bool:
        """Dev and test expose the dev clock and the OTP code in the response."""
        return self.env in ("dev", "test")

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the async driver (asyncpg). Empty until resolved: see
        ``app.db.resolve_database``, which starts the embedded server when none is set."""
        url = self.database_url
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain) :]
        return url

    @property
    def replica_urls(self) -> list[str]:
        """The replica URLs of ``database_replica_urls``."""
        return [u.strip() for u in self.database_replica_urls.split(",") if u.strip()]

    @property
    def requests_in_flight(self) -> int:
        return self.max_requests_in_flight or self.db_pool_size


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and ``overrides``). Raises ConfigError with one line
    that names each setting at fault."""
    problems = []
    if "content" not in overrides:
        try:
            overrides["content"] = ContentSettings()
        except ValidationError as exc:
            problems.append(describe(exc, "QUANZI_CONTENT_"))
            overrides["content"] = ContentSettings.model_construct()  # to check the rest too
    if "console" not in overrides:
        try:
            overrides["console"] = ConsoleSettings()
        except ValidationError as exc:
            problems.append(describe(exc, "QUANZI_CONSOLE_"))
            overrides["console"] = ConsoleSettings.model_construct()
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems.append(describe(exc, "QUANZI_"))
    if problems:
        raise ConfigError("; ".join(problems))
    return settings


def describe(exc: ValidationError, prefix: str = "QUANZI_") -> str:
    """One line for a settings ValidationError: ``QUANZI_X: problem; QUANZI_Y: problem``."""
    parts = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        parts.append(f"{prefix}{loc[0].upper()}: {msg}" if loc else msg)
    return "; ".join(parts)


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment. Raises ConfigError."""
    return load_settings()
