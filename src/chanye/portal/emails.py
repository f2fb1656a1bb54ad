"""The texts of the mails the portal sends: Chinese only, like every page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chanye.units import format_yuan


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


SIGNATURE = "\n\n—— 产业协会会员服务平台（系统邮件，请勿直接回复）"


def confirm_email(display_name: str, link: str) -> Mail:
    return Mail(
        "【产业协会】请确认您的注册邮箱",
        f"{display_name}，您好：\n\n感谢注册。请在 24 小时内打开下面的链接确认邮箱，确认后即可登录：\n\n"
        f"{link}\n\n如非本人操作，请忽略本邮件。" + SIGNATURE,
    )


def reset_password(display_name: str, link: str, minutes: int) -> Mail:
    return Mail(
        "【产业协会】重置密码",
        f"{display_name}，您好：\n\n我们收到了重置密码的请求。请在 {minutes} 分钟内打开下面的链接设置新密码，"
        f"链接只能使用一次：\n\n{link}\n\n如非本人操作，请忽略本邮件，您的密码不会改变。"
        + SIGNATURE,
    )


def password_changed(display_name: str) -> Mail:
    return Mail(
        "【产业协会】您的密码已修改",
        f"{display_name}，您好：\n\n您的账号密码刚刚已修改，所有已登录的会话已退出。"
        "如非本人操作，请立即联系协会秘书处。" + SIGNATURE,
    )


def second_factor_changed(display_name: str, replaced: bool) -> Mail:
    what = "更换了双因素登录的身份验证器" if replaced else "开启了双因素登录"
    return Mail(
        "【产业协会】双因素登录已变更",
        f"{display_name}，您好：\n\n您的账号刚刚{what}，此后登录须使用新绑定的身份验证器中的动态口令。"
        "如非本人操作，请立即修改密码并联系协会秘书处。" + SIGNATURE,
    )


# --- membership applications (入会申请) ---------------------------------------------------


def membership_submitted(display_name: str, company: str, number: int, link: str) -> Mail:
    return Mail(
        f"【产业协会】入会申请已收到（第 {number} 号）",
        f"{display_name}，您好：\n\n我们已收到“{company}”的入会申请（第 {number} 号），"
        f"协会秘书处将尽快审核，审核进展会以邮件通知您。查看申请：\n\n{link}" + SIGNATURE,
    )


def membership_under_review(display_name: str, company: str, number: int, link: str) -> Mail:
    return Mail(
        f"【产业协会】入会申请审核中（第 {number} 号）",
        f"{display_name}，您好：\n\n“{company}”的入会申请（第 {number} 号）已进入审核，"
        f"审核结果将以邮件通知您。查看申请：\n\n{link}" + SIGNATURE,
    )


def membership_approved(display_name: str, company: str, number: int, link: str) -> Mail:
    return Mail(
        f"【产业协会】入会申请已批准（第 {number} 号）",
        f"{display_name}，您好：\n\n恭喜！“{company}”的入会申请（第 {number} 号）已批准，"
        f"贵单位现已成为产业协会会员企业，登录后即可查看会员名录。查看申请：\n\n{link}" + SIGNATURE,
    )


def membership_rejected(
    display_name: str, company: str, number: int, reason: str, link: str
) -> Mail:
    return Mail(
        f"【产业协会】入会申请未获批准（第 {number} 号）",
        f"{display_name}，您好：\n\n很遗憾，“{company}”的入会申请（第 {number} 号）未获批准。\n\n"
        f"驳回理由：{reason}\n\n您可以按上述理由完善材料后重新申请。查看申请：\n\n{link}"
        + SIGNATURE,
    )


def training_moved_up(display_name: str, title: str, when: str, location: str, link: str) -> Mail:
    return Mail(
        f"【产业协会】候补成功：您已获得“{title}”的参训名额",
        f"{display_name}，您好：\n\n有学员取消了报名，您已从候补名单递补为正式参训人员：\n\n"
        f"培训：{title}\n时间：{when}\n地点：{location}\n\n详情与日历文件：{link}\n\n"
        "如不能参加，请及时在上述页面取消报名，以便名额递补给其他候补人员。" + SIGNATURE,
    )


def training_cancelled(display_name: str, title: str, when: str) -> Mail:
    return Mail(
        f"【产业协会】培训取消通知：{title}",
        f"{display_name}，您好：\n\n很抱歉，您报名的培训“{title}”（{when}）已取消，"
        "您的报名随之失效。后续安排请留意平台通知。" + SIGNATURE,
    )


# --- 免申即享 policy pushes -------------------------------------------------------------------


def policy_pushed(
    display_name: str,
    title: str,
    issuer: str,
    amount: float | None,
    reasons: list[str],
    link: str,
    instalments: Sequence[str] = (),
) -> Mail:
    """A policy the enterprise qualifies for (or would, with the missing data), with the reasons;
    ``instalments``: how the amount is paid when the policy pays it in instalments (分期拨付),
    each with its share, its amount and its condition."""
    verdict = (
        f"经逐条比对，贵企业符合全部条件，可享受 {format_yuan(amount)}，无需申请，登录后确认即可。"
        if amount is not None
        else "经逐条比对，贵企业其余条件均满足，尚缺部分数据（标“待补充”的条款），补充后即可判定。"
    )
    schedule = (
        f"该奖励分 {len(instalments)} 期拨付（括号内为拨付时间或条件）：\n"
        + "\n".join(f"  {line}" for line in instalments)
        + "\n\n"
        if instalments
        else ""
    )
    return Mail(
        f"【惠企政策】免申即享：{title}",
        f"{display_name}，您好：\n\n{issuer}发布的“{title}”已对全市企业完成匹配。{verdict}\n\n"
        + schedule
        + "判定依据（政策条款 — 贵企业在企业库中的数据 — 判定）：\n"
        + "\n".join(f"  {line}" for line in reasons)
        + f"\n\n查看详情并确认享受或放弃：{link}"
        + SIGNATURE,
    )


def pushes_unreachable(
    display_name: str, title: str, enterprises: list[str], total: int, link: str
) -> Mail:
    """To the policy office: a run made ``total`` pushes that no account can receive (线下通知);
    ``enterprises`` names the first of them."""
    shown = "\n".join(f"  {line}" for line in enterprises)
    more = f"\n  ……共 {total} 家" if total > len(enterprises) else ""
    return Mail(
        f"【惠企政策】{total} 家企业收不到“{title}”的推送，请线下通知",
        f"{display_name}，您好：\n\n“{title}”本次匹配向以下企业推送了政策，但这些企业在平台上没有"
        f"可接收推送的账号，系统无法通知它们：\n{shown}{more}\n\n"
        f"请电话或上门通知，并在政策管理页登记“已线下通知”：{link}" + SIGNATURE,
    )


# --- enterprise bindings (企业绑定核验) -------------------------------------------------------


def binding_verified(company: str, how: str, link: str) -> Mail:
    return Mail(
        "【产业协会】企业绑定已核验",
        f"{company}，您好：\n\n您的账号与本企业的绑定已核验（{how}）。"
        f"现在可以查看本企业的企业库信息和政策推送，并确认享受或放弃：\n\n{link}" + SIGNATURE,
    )


def binding_rejected(company: str, reason: str, link: str) -> Mail:
    return Mail(
        "【产业协会】企业绑定未通过核验",
        f"{company}，您好：\n\n很遗憾，您提交的企业绑定核验材料未通过审核。\n\n"
        f"驳回理由：{reason}\n\n您可以按上述理由重新上传材料，或使用统一身份认证核验：\n\n{link}"
        + SIGNATURE,
    )


def binding_revoked(company: str, reason: str, link: str) -> Mail:
    return Mail(
        "【产业协会】企业绑定已解除",
        f"{company}，您好：\n\n您的账号与本企业的绑定已解除，"
        f"此后不能再查看或办理该企业的事项。\n\n原因：{reason}\n\n"
        f"如有疑问，请联系贵企业的企业管理员或协会秘书处。账号页面：\n\n{link}" + SIGNATURE,
    )
