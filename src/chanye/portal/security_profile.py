"""Named security profiles: every password rule and limit in one place a deployer can adjust.

"等保三级" (GB/T 22239-2019, level 3) is the default: long passwords of three character classes,
periodic change, lockout after repeated failures, short idle sessions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecurityProfile:
    name: str
    password_min_length: int
    password_min_classes: int  # of: lower-case, upper-case, digits, other characters
    password_max_age_days: int  # 0: no forced periodic change
    lockout_failures: int  # failed logins (per account and per client address) ...
    lockout_window_minutes: int  # ... within this window lock the login ...
    lockout_minutes: int  # ... for this long
    idle_timeout_minutes: int
    reset_link_minutes: int  # validity of a password-reset link
    staff_two_factor: bool  # TOTP required for staff roles


PROFILES: dict[str, SecurityProfile] = {
    "等保三级": SecurityProfile(
        name="等保三级",
        password_min_length=10,
        password_min_classes=3,
        password_max_age_days=90,
        lockout_failures=5,
        lockout_window_minutes=15,
        lockout_minutes=15,
        idle_timeout_minutes=30,
        reset_link_minutes=30,
        staff_two_factor=True,
    ),
    "等保二级": SecurityProfile(
        name="等保二级",
        password_min_length=8,
        password_min_classes=3,
        password_max_age_days=180,
        lockout_failures=5,
        lockout_window_minutes=15,
        lockout_minutes=10,
        idle_timeout_minutes=30,
        reset_link_minutes=60,
        staff_two_factor=False,
    ),
}
DEFAULT_PROFILE = "等保三级"


def profile_named(name: str) -> SecurityProfile:
    try:
        return PROFILES[name]
    except KeyError:
        known = "、".join(PROFILES)
        raise ValueError(
            f"未知的安全配置“{name}”（可用：{known}）/ unknown security profile"
        ) from None
