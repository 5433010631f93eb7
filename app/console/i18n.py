"""The consoles' languages: Simplified Chinese by default, English on request.

Templates are written in Chinese and wrap each phrase in ``_("…")``; the English
catalogue maps the Chinese phrase to its English text (Chinese is the source language,
as gettext uses English). Each feature's ``console.py`` adds its phrases with ``add``.
A phrase may hold ``{name}`` placeholders, filled by keyword: ``_("共 {n} 条", n=3)``.

The language comes from ``?lang=zh|en`` (remembered in a cookie), else that cookie,
else the browser's ``Accept-Language``, else Chinese.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

LANGS = ("zh", "en")
DEFAULT = "zh"
COOKIE = "qz_lang"

EN: dict[str, str] = {}


def add(phrases: Mapping[str, str]) -> None:
    """Register English texts for Chinese phrases."""
    EN.update(phrases)


def translate(lang: str, phrase: str, **values: Any) -> str:
    text = EN.get(phrase, phrase) if lang == "en" else phrase
    return text.format(**values) if values else text


def translator(lang: str) -> Callable[..., str]:
    def _(phrase: str, **values: Any) -> str:
        return translate(lang, phrase, **values)

    return _


def from_accept_language(header: str) -> str | None:
    """The first of our languages the browser asks for (by q-value), or None."""
    choices: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGS and q > 0:
            choices.append((-q, n, primary))
    return min(choices)[2] if choices else None


def pick(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate  # type: ignore[return-value]
    return from_accept_language(accept_language or "") or DEFAULT


add(
    {
        "圈子 · 员工工作台": "Quanzi · Staff console",
        "登录": "Sign in",
        "退出登录": "Sign out",
        "已退出登录。": "You have signed out.",
        "手机号": "Phone number",
        "获取验证码": "Send code",
        "验证码": "One-time code",
        "验证码已发送至 {phone}。": "A code was sent to {phone}.",
        "开发模式验证码：{code}": "Dev mode code: {code}",
        "换一个号码": "Use another number",
        "使用与手机银行相同的手机号和短信验证码登录。": "Sign in with the phone number and text-message code you use for the mobile bank.",
        "会话已过期，请重新登录。": "Your session has expired; please sign in again.",
        "理财经理工作台": "Advisor workbench",
        "内容审核台": "Moderation console",
        "运营看板": "Operations dashboard",
        "员工操作日志": "Staff audit log",
        "出错了": "Something went wrong",
        "返回首页": "Back to start",
        "没有权限访问此页面。": "You are not allowed to open this page.",
        "未找到。": "Not found.",
        "请求无效。": "Invalid request.",
        "操作过于频繁，请稍后再试。": "Too many attempts; try again later.",
        "请先登录。": "Please sign in first.",
        "表单已失效，请刷新页面后重试。": "This form has expired; reload the page and try again.",
        "此账号没有后台权限。": "This account has no console access.",
        "验证码错误或已过期。": "The code is wrong or has expired.",
        "冲突：数据已被他人修改。": "Conflict: someone else changed this meanwhile.",
        "语言": "Language",
        "上一页": "Previous",
        "下一页": "Next",
        "第一页": "First page",
        "时间": "Time",
        "人员": "Staff member",
        "操作": "Action",
        "对象": "Target",
        "结果": "Outcome",
        "来源": "From",
        "筛选": "Filter",
        "全部": "All",
        "无记录。": "Nothing here.",
        "实时连接已断开，正在重连…": "Live connection lost; reconnecting…",
        "实时": "Live",
        "从": "Since",
    }
)
