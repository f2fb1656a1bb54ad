"""A real OpenID Connect provider for the tests, standing in for 统一身份认证 (粤商通 …).

Flask with Authlib's ``AuthorizationServer``: the authorization-code grant with PKCE (S256,
required) and the OpenID Connect extension (ID tokens signed RS256 with a key published at
``/jwks``, discovery at ``/.well-known/openid-configuration``), served on a free local port by
werkzeug in a thread. The protocol is Authlib's, not the tests'.

Who logs in is set by the test (``provider.user``: the claims of the person, e.g. a USCC): the
authorization endpoint consents at once for that person, as a provider's login page would after
they typed their password. A test can make the provider misbehave as a forged or broken one
would: write another issuer or audience into its tokens, sign them with a key it does not
publish, or issue them already expired.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

# The provider runs on loopback over plain HTTP; Authlib's server insists on HTTPS otherwise.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

CLIENT_ID = "chanye-test"
CLIENT_SECRET = "test-secret-for-the-local-provider"


@dataclass
class Person:
    claims: dict[str, Any]

    def get_user_id(self) -> str:
        return str(self.claims["sub"])


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class OidcProvider:
    """The provider and what it will do next (tests change the attributes)."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "published"}, private=True)
        self.rogue_key = RSAKey.generate_key(2048, parameters={"kid": "published"}, private=True)
        self.client = Client(CLIENT_ID, CLIENT_SECRET, [])
        self.codes: dict[str, Code] = {}
        self.user: dict[str, Any] | None = None  # None: the person cancels at the provider
        self.token_issuer: str | None = None  # None: its own address
        self.token_audience: str | None = None  # None: the client's id
        self.sign_with_rogue_key = False
        self.lifetime_seconds = 3600
        self._server: Any = None
        self.url = ""

    def reset(self) -> None:
        self.user, self.token_issuer, self.token_audience = None, None, None
        self.sign_with_rogue_key, self.lifetime_seconds = False, 3600

    def start(self) -> OidcProvider:
        self._server = make_server("127.0.0.1", 0, self._app(), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def settings(self) -> dict[str, str]:
        """The chanye settings that point at this provider (as CHANYE_* names' fields)."""
        return {
            "oidc_issuer": self.url,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_button_label": "粤商通登录",
        }

    # --- the Flask app ---------------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask("oidc-provider")
        server = AuthorizationServer(
            app, query_client=self._query_client, save_token=lambda *_: None
        )
        server.register_grant(_grant_for(self), [CodeChallenge(required=True), _openid_for(self)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=self.url,
                authorization_endpoint=f"{self.url}/authorize",
                token_endpoint=f"{self.url}/token",
                jwks_uri=f"{self.url}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(KeySet([self.key]).as_dict(private=False))

        @app.get("/authorize")
        def authorize() -> Any:
            person = Person(dict(self.user)) if self.user is not None else None
            return server.create_authorization_response(grant_user=person)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        return app

    def _query_client(self, client_id: str) -> Client | None:
        return self.client if client_id == self.client.client_id else None


def _grant_for(provider: OidcProvider) -> type[grants.AuthorizationCodeGrant]:
    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

        def save_authorization_code(self, code: str, request: Any) -> None:
            data = request.payload.data
            provider.codes[code] = Code(
                code,
                request.client.client_id,
                request.payload.redirect_uri,
                request.scope,
                request.user,
                data.get("nonce"),
                data.get("code_challenge"),
                data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = provider.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> Person:
            return authorization_code.person

    return CodeGrant


def _openid_for(provider: OidcProvider) -> OpenIDCode:
    class ProviderOpenIDCode(OpenIDCode):
        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return any(code.nonce == nonce for code in provider.codes.values())

        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return provider.rogue_key if provider.sign_with_rogue_key else provider.key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": "published"}

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            now = int(time.time())
            return {
                "iss": provider.token_issuer or provider.url,
                "aud": [provider.token_audience or client.client_id],
                "iat": now - max(0, -provider.lifetime_seconds) - 60,
                "exp": now + provider.lifetime_seconds,
            }

        def generate_user_info(self, user: Person, scope: str) -> UserInfo:
            return UserInfo(user.claims)

    return ProviderOpenIDCode(require_nonce=True)
