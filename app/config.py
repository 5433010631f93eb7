"""Typed settings, read once from ``QUANZI_*`` environment variables.

Grouped by concern (runtime, storage, secrets, auth limits, money limits). Production
refuses to start on a default secret; dev and test run on the embedded defaults.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-secret-change-me-0123456789abcdef"
DEFAULT_SERVICE_TOKEN = "dev-service-token"
DEFAULT_PHONE_KEY = "dev-phone-hmac-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_", extra="ignore")

    # runtime
    env: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path("var")
    timezone: str = "Asia/Shanghai"
    public_base_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = True
    # dev and test only: business time starts at this instant and stands still until the
    # dev clock moves it (``POST /v1/dev/clock``), so tests are the same at any hour
    clock_start: datetime | None = None

    # storage
    database_url: str = ""  # empty: the embedded PostgreSQL server under data_dir (app/embedded_pg.py)
    redis_url: str = "memory://"
    redis_prefix: str = "qz:"
    db_pool_size: int = 24  # per worker; plus a quarter of it as overflow
    db_pool_timeout_s: float = 30.0  # then 503 unavailable
    # HTTP requests of a worker that work at once, the rest wait in order (app/admission.py);
    # 0: the pool size
    max_requests_in_flight: int = 0

    # secrets
    secret_key: str = DEFAULT_SECRET
    service_token: str = DEFAULT_SERVICE_TOKEN
    phone_hmac_key: str = DEFAULT_PHONE_KEY

    # auth
    access_token_ttl_s: int = 30 * 24 * 3600
    otp_ttl_s: int = 300
    otp_max_attempts: int = 5
    otp_per_phone_per_hour: int = 5
    otp_per_ip_per_hour: int = 1000
    default_phone_region: str = "CN"

    # money (integer fen)
    topup_max_fen: int = Field(default=1_000_000, gt=0)
    transfer_max_fen: int = Field(default=50_000, gt=0)
    transfer_daily_max_fen: int = Field(default=200_000, gt=0)
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

    # chat
    chat_text_max_chars: int = Field(default=4000, gt=0)
    chat_group_max_members: int = Field(default=500, ge=2)  # the creator included
    chat_send_batch_max: int = Field(default=200, gt=0)  # WebSocket sends stored per transaction

    # realtime (the /v1/ws gateway)
    ws_max_frame_bytes: int = Field(default=64 * 1024, gt=0)  # larger frames get an error frame
    ws_transport_max_bytes: int = Field(default=1024 * 1024, gt=0)  # uvicorn closes (1009) above this
    # Idle HTTP keep-alive: longer than a gateway's pool idle time (often 60 s), so the server
    # is not the side that closes a connection the client is about to reuse.
    http_keep_alive_s: int = Field(default=75, gt=0)
    ws_heartbeat_s: float = Field(default=25.0, gt=0)  # ping an idle client this often
    ws_heartbeat_misses: int = Field(default=2, ge=1)  # silent intervals before the server closes
    ws_auth_timeout_s: float = Field(default=10.0, gt=0)  # wait this long for a first-frame auth
    ws_send_rate_per_s: float = Field(default=50.0, gt=0)  # per connection: send/sync/read frames
    ws_send_burst: int = Field(default=100, gt=0)
    ws_sync_max: int = Field(default=1000, gt=0)  # messages per sync; more: sync again
    ws_gap_wait_s: float = Field(default=0.2, ge=0)  # hold a push this long for a lower seq, then fetch it

    @model_validator(mode="after")
    def _refuse_default_secrets_in_prod(self) -> Settings:
        if self.env == "prod":
            defaults = {
                "QUANZI_SECRET_KEY": self.secret_key == DEFAULT_SECRET,
                "QUANZI_SERVICE_TOKEN": self.service_token == DEFAULT_SERVICE_TOKEN,
                "QUANZI_PHONE_HMAC_KEY": self.phone_hmac_key == DEFAULT_PHONE_KEY,
            }
            bad = [name for name, is_default in defaults.items() if is_default]
            if bad:
                raise ValueError(f"refusing to start in prod with default secrets: {', '.join(bad)}")
            if self.clock_start is not None:
                raise ValueError("QUANZI_CLOCK_START is for dev and test only")
            if len(self.secret_key) < 32:
                raise ValueError("QUANZI_SECRET_KEY must be at least 32 characters in prod")
        return self

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
    def requests_in_flight(self) -> int:
        return self.max_requests_in_flight or self.db_pool_size


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
