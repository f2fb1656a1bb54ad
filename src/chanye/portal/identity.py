"""统一身份认证: an enterprise account is bound through the province's identity provider (OIDC).

The provider (粤商通, 电子营业执照 login, …) is configured by its issuer, a client id and secret,
and the name of the claim carrying the enterprise's USCC. The flow is OpenID Connect's
authorization code flow with ``state``, ``nonce`` and PKCE (S256), driven by Authlib:

1. ``start`` keeps a single-use trip (a hash of ``state``, the nonce, the PKCE verifier, the
   browser session and the account) and sends the browser to the provider;
2. ``bind`` takes the provider's answer in the same session: the trip is used up first (a
   replayed ``state`` is refused), the code is exchanged at the token endpoint, and the ID token's
   signature (the provider's JWKS), issuer, audience, expiry and nonce are checked (joserfc, with
   Authlib's ID-token claims). A token whose USCC is the account's verifies the binding at once
   (``chanye.portal.binding.verify_by_identity``).

Every refusal is audited and answered in Chinese; nothing of the enterprise opens.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import delete
from sqlalchemy.orm import Session

from chanye.beijing import aware
from chanye.config import Settings
from chanye.portal import binding
from chanye.problems import ReasonRefusedError
from chanye.store.audit import Actor, record
from chanye.store.models import Account, EnterpriseBinding, IdentityLogin, utcnow

TRIP_MINUTES = 10
STALE_AFTER = dt.timedelta(days=1)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
CALLBACK_PATH = "/account/binding/oidc/callback"
TIMEOUT_SECONDS = 10
LEEWAY_SECONDS = 60


class IdentityRefusedError(ReasonRefusedError):
    """A sign-in through the identity provider that cannot go on."""


@dataclass(frozen=True)
class Provider:
    """The configured identity provider (all four settings set), or none."""

    issuer: str
    client_id: str
    client_secret: str
    uscc_claim: str
    scope: str
    label: str
    redirect_uri: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Provider | None:
        secret = settings.oidc_client_secret
        if not (settings.oidc_issuer and settings.oidc_client_id and secret):
            return None
        return cls(
            issuer=settings.oidc_issuer.rstrip("/"),
            client_id=settings.oidc_client_id,
            client_secret=secret.get_secret_value(),
            uscc_claim=settings.oidc_uscc_claim,
            scope=settings.oidc_scope,
            label=settings.oidc_button_label,
            redirect_uri=f"{settings.site_url}{CALLBACK_PATH}",
        )

    def client(self) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT_SECONDS,
        )


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def discover(provider: Provider) -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery); its issuer must be the one set."""
    parts = urlsplit(provider.issuer)
    if parts.scheme != "https" and parts.hostname not in LOOPBACK:
        raise IdentityRefusedError("统一身份认证的地址必须使用 https", "the issuer must be https")
    url = f"{provider.issuer}/.well-known/openid-configuration"
    try:
        answer = httpx.get(url, timeout=TIMEOUT_SECONDS)
        answer.raise_for_status()
        metadata: dict[str, Any] = answer.json()
    except (httpx.HTTPError, ValueError) as failed:
        raise IdentityRefusedError(
            "暂时无法连接统一身份认证服务，请稍后再试", f"discovery failed: {failed}"
        ) from failed
    if metadata.get("issuer", "").rstrip("/") != provider.issuer:
        raise IdentityRefusedError(
            "统一身份认证服务的身份与配置不符，已拒绝", "the discovered issuer is not the one set"
        )
    return metadata


def start(session: Session, provider: Provider, account: Account, web_session_id: str) -> str:
    """Keep a single-use trip for this account and browser session; the provider's login URL."""
    metadata = discover(provider)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    url, _state = provider.client().create_authorization_url(
        metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    now = utcnow()
    # Trips that never came back are of no use after they expire: drop the old ones.
    session.execute(delete(IdentityLogin).where(IdentityLogin.expires_at < now - STALE_AFTER))
    session.add(
        IdentityLogin(
            state_hash=_hash(state),
            account_id=account.id,
            web_session_id=web_session_id,
            nonce=nonce,
            code_verifier=verifier,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=TRIP_MINUTES),
        )
    )
    return str(url)


@dataclass(frozen=True)
class Answer:
    """What the provider sent the browser back with."""

    state: str
    code: str
    error: str


def bind(
    session: Session,
    settings: Settings,
    provider: Provider,
    account: Account,
    web_session_id: str,
    answer: Answer,
    actor: Actor,
) -> EnterpriseBinding:
    """Finish the trip and bind the account when the token's USCC is its own. Raises
    IdentityRefusedError or BindingRefusedError; either way the refusal is audited and the trip
    used up, so the caller commits before answering."""
    try:
        identity = _identity(session, provider, account, web_session_id, answer)
    except IdentityRefusedError as refused:
        record(
            session,
            actor,
            "binding.identity",
            binding.OBJECT_TYPE,
            None,
            after={"issuer": provider.issuer, "problem": refused.en},
            result="refused",
        )
        raise
    return binding.verify_by_identity(session, settings, account, identity, actor)


def _identity(
    session: Session, provider: Provider, account: Account, web_session_id: str, answer: Answer
) -> binding.Identity:
    trip = session.get(IdentityLogin, _hash(answer.state), with_for_update=True)
    if (
        trip is None
        or trip.used_at is not None
        or aware(trip.expires_at) < utcnow()
        or trip.account_id != account.id
        or trip.web_session_id != web_session_id
    ):
        raise IdentityRefusedError(
            "这次统一身份认证已失效或已使用，请重新点击按钮登录", "unknown, used or expired state"
        )
    trip.used_at = utcnow()  # used up before anything else: a replay finds it spent
    if answer.error or not answer.code:
        raise IdentityRefusedError(
            "统一身份认证未完成（已取消或被拒绝），未绑定", f"provider error: {answer.error}"
        )
    metadata = discover(provider)
    try:
        token = provider.client().fetch_token(
            metadata["token_endpoint"], code=answer.code, code_verifier=trip.code_verifier
        )
    except (httpx.HTTPError, OAuthError, ValueError) as failed:
        raise IdentityRefusedError(
            "统一身份认证服务没有确认这次登录，请重新登录", f"token exchange failed: {failed}"
        ) from failed
    claims = _checked_claims(provider, metadata, token, trip.nonce)
    uscc = claims.get(provider.uscc_claim)
    return binding.Identity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        uscc=str(uscc).strip().upper() if isinstance(uscc, str) and uscc.strip() else None,
    )


def _checked_claims(
    provider: Provider, metadata: dict[str, Any], token: dict[str, Any], nonce: str
) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, expiry and nonce hold."""
    if "id_token" not in token:
        raise IdentityRefusedError("统一身份认证没有返回身份令牌", "no id_token in the response")
    try:
        keys = _key_set(metadata)
        decoded = jwt.decode(
            token["id_token"],
            keys,
            registry=JWSRegistry(
                algorithms=metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
            ),
        )
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": provider.client_id},
            },
            {
                "nonce": nonce,
                "client_id": provider.client_id,
                "access_token": token.get("access_token"),
            },
        )
        claims.validate(leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError) as bad:
        raise IdentityRefusedError(
            "统一身份认证的身份令牌未通过校验（签名、签发方、受众或有效期不符），未绑定",
            f"id token refused: {bad!r}",
        ) from bad
    return dict(claims)


def _key_set(metadata: dict[str, Any]) -> KeySet:
    try:
        answer = httpx.get(metadata["jwks_uri"], timeout=TIMEOUT_SECONDS)
        answer.raise_for_status()
        return KeySet.import_key_set(answer.json())
    except (httpx.HTTPError, KeyError) as failed:
        raise IdentityRefusedError(
            "暂时无法取得统一身份认证的签名公钥，请稍后再试", f"jwks: {failed}"
        ) from failed
