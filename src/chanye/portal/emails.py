"""The texts of the mails the portal sends, in Chinese with an English line for foreign staff."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


SIGNATURE = "\n\n—— chanye 产业协会会员服务平台（系统邮件，请勿直接回复）"


def confirm_email(display_name: str, link: str) -> Mail:
    return Mail(
        "【产业协会】请确认您的注册邮箱 / Confirm your e-mail",
        f"{display_name}，您好：\n\n感谢注册。请在 24 小时内打开下面的链接确认邮箱，确认后即可登录：\n\n"
        f"{link}\n\n如非本人操作，请忽略本邮件。\n\nOpen the link above to confirm your address."
        + SIGNATURE,
    )


def reset_password(display_name: str, link: str, minutes: int) -> Mail:
    return Mail(
        "【产业协会】重置密码 / Reset your password",
        f"{display_name}，您好：\n\n我们收到了重置密码的请求。请在 {minutes} 分钟内打开下面的链接设置新密码，"
        f"链接只能使用一次：\n\n{link}\n\n如非本人操作，请忽略本邮件，您的密码不会改变。\n\n"
        f"The link above resets your password once, within {minutes} minutes." + SIGNATURE,
    )


def password_changed(display_name: str) -> Mail:
    return Mail(
        "【产业协会】您的密码已修改 / Your password was changed",
        f"{display_name}，您好：\n\n您的账号密码刚刚已修改，所有已登录的会话已退出。"
        "如非本人操作，请立即联系协会秘书处。\n\nYour password was just changed." + SIGNATURE,
    )
