"""Secrets sealed at rest: a column type that encrypts on write and decrypts on read (Fernet).

The key belongs to the deployment, not to the database: ``use_key`` registers it for a database
URL (every ``chanye.config.Settings`` does so for its database). A SQLite database
with no key registered uses the key file beside it, which is where the settings keep it by
default, so every process working on one data directory agrees on the key.
"""

from __future__ import annotations

import os
import secrets
import weakref
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import String, make_url
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

KEY_FILE_NAME = "secret.key"
# Every Fernet token starts with its version byte 0x80, "gAAAAA" in URL-safe base64.
_TOKEN_PREFIX = "gAAAAA"

_keys: dict[str, Fernet] = {}
_key_sources: dict[str, Callable[[], str | bytes]] = {}
_url_of_dialect: weakref.WeakKeyDictionary[Dialect, str] = weakref.WeakKeyDictionary()


class SealingKeyError(RuntimeError):
    """No key, or the wrong key, for a sealed value."""


def use_key(url: str, key: str | bytes) -> None:
    """Seal and unseal this database's secrets with ``key`` (a Fernet key)."""
    try:
        _keys[url] = Fernet(key)
    except ValueError:
        raise SealingKeyError(
            "CHANYE_SECRET_KEY 不是有效的密钥（应为 32 字节的 URL 安全 Base64）"
        ) from None


def use_key_from(url: str, source: Callable[[], str | bytes]) -> None:
    """Like ``use_key``, with the key read only when a secret is first sealed or unsealed."""
    _keys.pop(url, None)
    _key_sources[url] = source


def remember_engine(engine: Engine, url: str) -> None:
    """Let sealed columns find the key of the database this engine talks to."""
    _url_of_dialect[engine.dialect] = url


def key_from_file(path: Path) -> bytes:
    """The key kept in ``path``, created (owner-readable only) the first time it is needed."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(Fernet.generate_key())
    try:
        os.link(draft, path)  # atomic: of two processes starting at once, one key wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_bytes().strip()


def _fernet_for(dialect: Dialect) -> Fernet:
    url = _url_of_dialect.get(dialect)
    if url is None:
        raise SealingKeyError("这个数据库连接不是由 chanye 打开的，无法解密")
    if url not in _keys and url in _key_sources:
        use_key(url, _key_sources[url]())
    if url not in _keys:
        database = make_url(url).database
        if make_url(url).get_backend_name() != "sqlite" or not database or database == ":memory:":
            raise SealingKeyError("未配置 CHANYE_SECRET_KEY，无法加密或解密敏感字段")
        use_key(url, key_from_file(Path(database).parent / KEY_FILE_NAME))
    return _keys[url]


def is_sealed(stored: str) -> bool:
    return stored.startswith(_TOKEN_PREFIX)


class SealedString(TypeDecorator[str]):
    """A string stored encrypted. Values written before sealing existed are read as they are."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return _fernet_for(dialect).encrypt(value.encode()).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not is_sealed(value):
            return value
        try:
            return _fernet_for(dialect).decrypt(value.encode()).decode()
        except InvalidToken:
            raise SealingKeyError(
                "敏感字段无法解密：CHANYE_SECRET_KEY 与加密时所用的密钥不同"
            ) from None
