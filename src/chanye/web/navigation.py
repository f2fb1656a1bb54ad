"""The areas of chanye as the navigation bar shows them, and what each will offer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    key: str
    label: str
    path: str
    summary: str
    ready: bool = False
    coming: tuple[str, ...] = ()


NAVIGATION: tuple[Area, ...] = (
    Area("system", "产业体系", "/system", "现代化产业体系的结构、目标与责任分工。", ready=True),
    Area(
        "registry",
        "企业库",
        "/registry",
        "全市经营主体名录：导入、校验、归类到产业集群与产业链环节，并支持检索。",
        ready=True,
        coming=(
            "Excel / CSV / Parquet 批量导入，逐行校验统一社会信用代码、区划与行业代码",
            "按行业代码与经营范围关键词自动归入15个产业集群及产业链环节，保留归类依据",
            "企业检索、企业画像、导入历史与撤销",
        ),
    ),
    Area(
        "policies",
        "政策",
        "/policies",
        "惠企政策规则化：免申即享匹配、逐条解释与调整测算。",
        ready=True,
        coming=(
            "政策条款写成规则（CEL），对全市企业批量匹配",
            "每项判定逐条解释，列出“差一条”的企业",
            "调整门槛前模拟受益企业数和资金总额的变化",
        ),
    ),
    Area(
        "chains",
        "产业链",
        "/chains",
        "各产业集群与未来产业的产业链图谱：上游、中游、下游环节。",
        ready=True,
        coming=("薄弱环节识别、招商目标企业排序、供需对接",),
    ),
    Area(
        "projects",
        "项目",
        "/projects",
        "重点项目、首试首用应用场景、产业园区与用地。",
        coming=("重点项目进度跟踪", "应用场景发布与对接", "园区与产业用地台账"),
    ),
    Area(
        "members",
        "会员",
        "/members",
        "产业协会会员门户：注册登录、入会申请、会员名录。",
        ready=True,
        coming=("账号注册与登录（验证码、记住账号、找回密码）", "入会申请与审核", "会员名录"),
    ),
    Area(
        "trainings",
        "培训",
        "/trainings",
        "近期培训：报名、候补与签到名单。",
        ready=True,
        coming=("培训列表与详情", "在线报名、名额与候补", "参训名单导出与日历文件"),
    ),
    Area(
        "news",
        "新闻",
        "/news",
        "产业动态与政策新闻。",
        ready=True,
        coming=("新闻发布与分类", "首页新闻动态"),
    ),
)


def area(key: str) -> Area:
    return next(a for a in NAVIGATION if a.key == key)
