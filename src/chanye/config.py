"""Settings, read from the environment (prefix ``CHANYE_``) and nothing else.

With nothing set, chanye runs embedded: a SQLite file and, later, DuckDB/Parquet files in the data
directory. Every setting is documented in ``docs/settings.md``; a test keeps the two in step.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from chanye.beijing import today_in_beijing
from chanye.store.database import PoolOptions
from chanye.store.sealing import KEY_FILE_NAME, key_from_file, use_key_from


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHANYE_", frozen=True)

    data_dir: Path = Field(default=Path(".chanye"), description="Where chanye keeps its files")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the operational database; SQLite in data_dir when unset",
    )
    system_file: Path | None = Field(
        default=None,
        description="Industrial-system file loaded by `chanye demo`; the packaged Guangzhou 12218 "
        "file when unset",
    )
    demo_enterprises: int = Field(
        default=200_000,
        ge=0,
        description="Size of the synthetic city `chanye demo` loads into an empty registry",
    )
    max_upload_mb: int = Field(
        default=2048, ge=1, description="Largest file the web import page accepts, in MB"
    )
    upload_retention_days: int = Field(
        default=30,
        ge=0,
        description="Days a file uploaded to the registry import page is kept (with its error "
        "report) before it is deleted",
    )
    max_xlsx_rows: int = Field(
        default=300_000,
        ge=1,
        description="Most rows an imported XLSX sheet may have (larger files: CSV)",
    )
    max_xlsx_expanded_mb: int = Field(
        default=1024,
        ge=1,
        description="Most an imported XLSX may expand to when unzipped, in MB (refuses zip bombs)",
    )
    warm_up: bool = Field(
        default=True,
        description="Open the registry's search reader in the background when the app starts",
    )
    security_profile: str = Field(
        default="等保三级",
        description="Named security profile: password rules, expiry, lockout, idle timeout, 2FA",
    )
    cookie_secure: bool = Field(
        default=True,
        description="Mark cookies Secure (sent over HTTPS only; browsers also send them to "
        "localhost). Turn off only behind plain HTTP on a trusted network",
    )
    public_url: str | None = Field(
        default=None,
        description="Address people reach the site at, used in links sent by e-mail; "
        "http://HOST:PORT when unset",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for outgoing mail; when unset, mail is written to data_dir/outbox",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port")
    mail_from: str = Field(
        default="chanye 产业协会 <noreply@chanye.localhost>", description="Sender of outgoing mail"
    )
    max_document_mb: int = Field(
        default=10, ge=1, description="Largest document a membership application may upload, in MB"
    )
    testing_expose_captcha: bool = Field(
        default=False,
        description="TESTING ONLY: serve the current captcha answer at /testing/captcha-answer so "
        "browser tests can log in. Never turn on in production",
    )
    db_pool_size: int = Field(
        default=5, ge=1, description="Database connections each web worker process keeps open"
    )
    db_max_overflow: int = Field(
        default=10, ge=0, description="Extra connections a web worker may open at a peak"
    )
    db_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a request waits for a free database connection before it is "
        "answered 503",
    )
    db_statement_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest a web request's database statement may run (PostgreSQL) or wait "
        "for a lock (SQLite) before it is answered 503",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="Issuer URL of the identity provider (统一身份认证, OpenID Connect) enterprise "
        "accounts may bind through; https (loopback excepted). Off unless the client id and "
        "secret are set too",
    )
    oidc_client_id: str | None = Field(
        default=None, description="chanye's client id at the identity provider"
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="chanye's client secret at the identity provider"
    )
    oidc_uscc_claim: str = Field(
        default="uscc",
        min_length=1,
        description="Name of the ID-token claim carrying the enterprise's USCC",
    )
    oidc_scope: str = Field(
        default="openid",
        min_length=1,
        description="Scopes asked of the identity provider (space-separated; must include openid)",
    )
    oidc_button_label: str = Field(
        default="统一身份认证登录",
        min_length=1,
        description="Label of the button that binds through the identity provider (e.g. 粤商通登录)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key sealing secrets at rest (TOTP secrets); when unset, one is "
        "generated into data_dir/secret.key (mode 0600) on first start. Keep it out of backups "
        "of the database",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For is "
        "believed; empty: the peer address is the client's (X-Forwarded-For ignored)",
    )
    host: str = Field(default="127.0.0.1", description="Address `chanye serve` listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `chanye serve` listens on")
    figures_year: int | None = Field(
        default=None,
        ge=1949,
        le=2100,
        description="The year the registry's annual figures (revenue, R&D expense) are for, as "
        "pages name them (2025年营业收入); last year in Beijing time when unset",
    )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chanye.db').resolve()}"

    @property
    def pool_options(self) -> PoolOptions:
        return PoolOptions(
            self.db_pool_size,
            self.db_max_overflow,
            self.db_pool_timeout_seconds,
            self.db_statement_timeout_seconds,
        )

    def environment(self) -> dict[str, str]:
        """These settings as ``CHANYE_`` variables, for a child process to read the same ones."""
        values: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is not None:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                values[f"CHANYE_{name.upper()}"] = text
        return values

    @property
    def annual_figures_year(self) -> int:
        """The year of the registry's annual figures: reports of a year cover the year before."""
        return self.figures_year or today_in_beijing().year - 1

    @property
    def site_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def uploads_dir(self) -> Path:
        """Uploaded documents: inside the data directory, never under the web root."""
        return self.data_dir / "uploads"

    @property
    def registry_uploads_dir(self) -> Path:
        """Files uploaded for registry imports, kept for ``upload_retention_days``."""
        return self.uploads_dir / "registry"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / KEY_FILE_NAME

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [address.strip() for address in self.trusted_proxies.split(",") if address.strip()]

    def ensure_data_dir(self) -> Path:
        """The data directory, created readable by its owner only."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir

    def model_post_init(self, _context: object) -> None:
        # The database's secrets are sealed with this deployment's key, read when first needed.
        use_key_from(self.resolved_database_url, self._sealing_key)

    def _sealing_key(self) -> str | bytes:
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return key_from_file(self.secret_key_file)
