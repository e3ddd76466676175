"""Settings from the environment (prefix STREAMBOT_). Built once by the CLI and passed down."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from streambot.domain import COINBASE_ENTRY_TIER, DEFAULT_PRODUCTS
from streambot.observability.logging import LogFormat

_CHAT_ID = re.compile(r"-?[0-9]{1,19}")  # a Telegram chat id: users positive, groups negative


class Mode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class MarketData(StrEnum):
    SIM = "sim"
    COINBASE = "coinbase"


class Role(StrEnum):
    """Which parts a process runs: all of them (``streambot run``), or one role of a cluster."""

    ALL = "all"
    FEED = "feed"  # the one market-data WebSocket; ticks and feed events to Redis
    WORKER = "worker"  # evaluator and order path for the bots it owns (bot leases)
    API = "api"  # REST, WebSockets and the dashboard, from PostgreSQL and the event stream


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STREAMBOT_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: SQLite file in the data dir
    api_token: SecretStr | None = None
    mode: Mode = Mode.PAPER
    market_data: MarketData = MarketData.SIM
    coinbase_ws_url: str = "wss://advanced-trade-ws.coinbase.com"
    coinbase_rest_url: str = "https://api.coinbase.com"
    coinbase_api_key: SecretStr | None = None
    coinbase_api_secret: SecretStr | None = None
    # A CDP key file as Coinbase downloads it (JSON name + privateKey), mode 0600; instead of the two above.
    coinbase_key_file: Path | None = None
    rest_poll_interval: float = Field(default=5.0, gt=0)  # REST best bid/ask while the stream is down
    products: Annotated[tuple[str, ...], NoDecode] = DEFAULT_PRODUCTS
    demo_bots: bool = True
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.CONSOLE
    # logs/backend.log in the data dir, rotated at this size, this many old files kept; 0: no file.
    log_file_max_bytes: int = Field(default=10_485_760, ge=0)
    log_file_backups: int = Field(default=5, ge=0, le=100)
    # The old bot's per-product lines (📈 ticker, 🤖 triggering, ✅ completed, 💾 cache) this often.
    log_activity_interval_s: float = Field(default=30.0, gt=0)
    sim_port: int = Field(default=0, ge=0, le=65535)  # 0: any free loopback port
    sim_seed: int | None = None
    # Paper mode's simulator ticks this many times faster than the markets it imitates (`make soak`).
    sim_tick_rate_scale: float = Field(default=1.0, gt=0, le=1000)
    balance_cache_ttl: float = Field(default=60.0, gt=0)
    order_cooldown_s: float = Field(default=5.0, ge=0)
    # Paper trading's fee tier (fractions: 0.012 is 1.2 %), Coinbase's entry tier by default. Live
    # reads the account's own tier from Coinbase; these are its fallback until the first read.
    paper_maker_fee_rate: Decimal = Field(default=COINBASE_ENTRY_TIER.maker_fee_rate, ge=0, lt=Decimal("0.5"))
    paper_taker_fee_rate: Decimal = Field(default=COINBASE_ENTRY_TIER.taker_fee_rate, ge=0, lt=Decimal("0.5"))
    # Risk limits (quote currency or percent; 0 turns a limit off). See streambot.risk.
    risk_max_order_notional: Decimal = Field(default=Decimal(10_000), ge=0)
    risk_max_position_notional: Decimal = Field(default=Decimal(50_000), ge=0)
    risk_daily_loss_pct: Decimal = Field(default=Decimal(10), ge=0, le=100)
    risk_max_drawdown_pct: Decimal = Field(default=Decimal(25), ge=0, le=100)
    risk_loss_cooldown_s: float = Field(default=60.0, ge=0)
    risk_max_trades_per_hour: int = Field(default=120, ge=0)
    risk_stale_price_s: float = Field(default=30.0, ge=0)
    risk_halt_allows_exits: bool = True
    reconcile_interval_s: float = Field(default=30.0, gt=0)
    # Summed bot positions vs the account's balances, per asset (trading/balance_check.py).
    balance_check_interval_s: float = Field(default=300.0, gt=0)
    exchange_timeout_s: float = Field(default=10.0, gt=0)  # one REST call; longer: outcome unknown
    # An order whose outcome is unknown and that the exchange still does not list after this long
    # was never placed (FAILED, NEVER_SUBMITTED).
    order_unknown_grace_s: float = Field(default=30.0, gt=0)
    # A test facility for the crash tests only: SIGKILL this process the first time an order
    # reaches this point (after_intent_commit | after_send). See trading/fault_point.py.
    fault_point: Literal["after_intent_commit", "after_send"] | None = None
    # One process per database: the lease is renewed this often and taken over when this stale.
    lease_renew_s: float = Field(default=5.0, gt=0)
    lease_stale_s: float = Field(default=30.0, gt=0)
    equity_check_interval_s: float = Field(default=2.0, gt=0)
    equity_snapshot_interval_s: float = Field(default=60.0, gt=0)
    # Python files defining user strategies, loaded by name at start-up (see strategies/user.py).
    strategy_dir: Path | None = None
    # Record the raw market-data frames the platform receives into this directory (feed/recorder.py).
    record_dir: Path | None = None
    # Backtests started from the API that run at once, each a process keeping a core busy; the rest
    # wait in the queue. One leaves the other core of a small machine to the platform.
    backtest_workers: int = Field(default=1, ge=1, le=8)
    # How often bots with streaming off decide on the latest price (the old "legacy" mode).
    legacy_poll_interval: float = Field(default=5.0, gt=0)
    # --- API security, live push and alerts (api/, alerts/) ---
    # Browser origins allowed to call the API and open its WebSockets; empty: CORS off.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    api_rate_limit: float = Field(default=100.0, gt=0)  # requests per second per client address
    api_rate_burst: int = Field(default=200, ge=1)
    auth_max_failures: int = Field(default=10, ge=1)  # wrong tokens from one address before lockout
    auth_lockout_s: float = Field(default=300.0, gt=0)
    # Request bodies larger than this are refused with 413 before they are read whole or parsed.
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # No bot's budget may exceed this (quote currency); live mode also caps it at the account's balance.
    max_bot_budget: Decimal = Field(default=Decimal(1_000_000), gt=0, le=Decimal(10) ** 15)
    ws_max_clients: int = Field(default=1000, ge=1)
    ws_queue_size: int = Field(default=1000, ge=1)  # events queued per client before it is cut off
    ws_ring_size: int = Field(default=10_000, ge=1)  # recent events kept for resume
    ws_auth_timeout_s: float = Field(default=5.0, gt=0)
    ws_ping_interval_s: float = Field(default=15.0, gt=0)
    alert_webhook_url: SecretStr | None = None  # webhook URLs often carry a key in the path
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    # Chats besides STREAMBOT_TELEGRAM_CHAT_ID that may command (comma-separated chat ids); commands
    # from any other chat are ignored and counted.
    telegram_allowed_chats: Annotated[tuple[int, ...], NoDecode] = ()
    telegram_poll_timeout_s: int = Field(default=30, ge=1, le=50)  # getUpdates long-poll wait
    telegram_confirm_ttl_s: float = Field(default=120.0, gt=0)  # a confirmation code lives this long
    alert_feed_down_s: float = Field(default=30.0, gt=0)  # feed not live this long: alert
    alert_feed_live_settle_s: float = Field(default=10.0, ge=0)  # live this long ends an outage
    alert_breaker_clear_s: float = Field(default=30.0, ge=0)  # breaker closed this long: cleared
    alert_trades_webhook: bool = False  # also send fills to the webhook
    alert_trades_telegram: bool = False  # also send fills to Telegram
    alert_check_interval_s: float = Field(default=5.0, gt=0)
    alert_min_cache_lookups: int = Field(default=20, ge=1)  # before judging the cache hit rate
    # --- the cluster: streambot feed | worker | api | cluster (cluster/) ---
    redis_url: str = ""  # redis://host:6379/0: the streams between the roles; the roles need it
    # Prefix of the cluster's Redis keys: two clusters on one Redis keep apart by it.
    cluster_name: str = Field(default="streambot", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    # Paper mode against a simulator already running (the one `streambot cluster` starts), e.g.
    # http://127.0.0.1:8765; empty: the process starts its own, as `streambot run` does.
    sim_url: str = ""
    # A worker renews its bots' leases this often; a bot whose lease is this stale moves.
    bot_lease_renew_s: float = Field(default=1.0, gt=0)
    bot_lease_stale_s: float = Field(default=5.0, gt=0)
    # A worker that has not heard from Redis for this long stops placing orders until it does.
    redis_lost_s: float = Field(default=2.0, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        if isinstance(value, list | tuple):
            for origin in value:
                scheme, sep, rest = str(origin).partition("://")
                if scheme not in {"http", "https"} or not sep or not rest or "/" in rest:
                    raise ValueError(
                        f"STREAMBOT_CORS_ORIGINS: {origin!r} is not an origin like https://host[:port]"
                    )
            return tuple(str(o) for o in value)
        return value

    @field_validator("telegram_allowed_chats", mode="before")
    @classmethod
    def _split_chats(cls, value: object) -> object:
        if isinstance(value, str):
            value = [c.strip() for c in value.split(",") if c.strip()]
        if isinstance(value, list | tuple):
            chats = []
            for chat in value:
                text = str(chat).strip()
                if not _CHAT_ID.fullmatch(text):
                    raise ValueError(
                        f"STREAMBOT_TELEGRAM_ALLOWED_CHATS: {text[:30]!r} is not a numeric chat id "
                        "(e.g. 123456789, or -1001234567890 for a group)"
                    )
                chats.append(int(text))
            return tuple(dict.fromkeys(chats))
        return value

    @field_validator("products", mode="before")
    @classmethod
    def _split_products(cls, value: object) -> object:
        if isinstance(value, str):
            value = [p for p in (part.strip().upper() for part in value.split(",")) if p]
        if isinstance(value, list | tuple):
            if not value:
                raise ValueError("STREAMBOT_PRODUCTS lists no product")
            for product in value:
                base, sep, quote = str(product).partition("-")
                if not (sep and base and quote):
                    raise ValueError(f"STREAMBOT_PRODUCTS: {product!r} is not of the form BASE-QUOTE")
            return tuple(dict.fromkeys(str(p) for p in value))
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"STREAMBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {value!r}")
        return level

    @model_validator(mode="after")
    def _check_live(self) -> Settings:
        has_keys = bool(self.coinbase_api_key and self.coinbase_api_secret) or self.coinbase_key_file
        if self.mode is Mode.LIVE and not has_keys:
            raise ValueError(
                "STREAMBOT_MODE=live needs STREAMBOT_COINBASE_API_KEY and STREAMBOT_COINBASE_API_SECRET "
                "(or STREAMBOT_COINBASE_KEY_FILE); "
                "without keys streambot will not trade real money (use STREAMBOT_MODE=paper)"
            )
        if self.mode is Mode.LIVE and self.market_data is MarketData.SIM:
            raise ValueError(
                "STREAMBOT_MODE=live trades on Coinbase, so it needs STREAMBOT_MARKET_DATA=coinbase"
            )
        if not self.is_loopback_bind and self.api_token is None:
            raise ValueError(
                f"STREAMBOT_HOST={self.host} is not a loopback address: set STREAMBOT_API_TOKEN "
                "explicitly before exposing the API"
            )
        return self

    def cluster_problem(self) -> str | None:
        """Why the cluster's roles cannot run on these settings (one sentence), or None."""
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            return "the cluster's roles need STREAMBOT_REDIS_URL (e.g. redis://127.0.0.1:6379/0)"
        if not self.database_url.startswith("postgresql"):
            return (
                "the cluster's roles share one PostgreSQL database: set STREAMBOT_DATABASE_URL "
                "(e.g. postgresql+asyncpg://user:password@127.0.0.1:5432/streambot)"
            )
        if self.bot_lease_stale_s <= self.bot_lease_renew_s:
            return "STREAMBOT_BOT_LEASE_STALE_S must be longer than STREAMBOT_BOT_LEASE_RENEW_S"
        if self.mode is Mode.PAPER and not self.sim_url:
            return "paper mode in a cluster trades on one shared simulator: set STREAMBOT_SIM_URL"
        return None

    @property
    def is_loopback_bind(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def telegram_command_chats(self) -> frozenset[int]:
        """Chats that may command: the alert chat (when it is a numeric id) and the allowed ones."""
        chats = set(self.telegram_allowed_chats)
        if self.telegram_chat_id is not None:
            text = self.telegram_chat_id.get_secret_value().strip()
            if _CHAT_ID.fullmatch(text):
                chats.add(int(text))
        return frozenset(chats)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'streambot.db').as_posix()}"
