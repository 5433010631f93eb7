"""The moderation console (``/console/moderation``): the queue, an item, term lists, the audit log.

Every page calls the same service functions as ``/v1/moderation/…``. The queue is worked
with the keyboard (``static/queue.js``: j/k move, a approves, r removes, e escalates,
Enter opens), and new items arrive over ``/v1/ws`` as ``moderation`` frames.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.console import i18n
from app.console.config import console_settings
from app.console.web import Csrf, Staff, console_router, register, render, staff_with, wants_json
from app.deps import DbSession, Rt
from app.errors import ValidationFailed
from app.pagination import Cursor
from content.moderation import service as moderation
from content.moderation import termfilter
from content.moderation.schemas import (
    QUEUE_STATES,
    AuditPublic,
    DecisionIn,
    ItemDetail,
    QueueCounts,
    QueueItem,
    TermsIn,
    TermsPreview,
    TermsPreviewIn,
    TermsPublic,
)

register("moderation", Path(__file__).resolve().parent)
router = console_router()
ModeratorStaff = Annotated[Staff, Depends(staff_with("moderator", "admin"))]

STATES = {
    "pending": "待审核",
    "escalated": "已升级",
    "approved": "已通过",
    "rejected": "已驳回",
    "removed": "已删除",
}
REASONS = {"filter": "关键词过滤", "reports": "用户举报"}
ACTIONS = {"block": "拦截", "review": "送审", "flag": "标记"}
CATEGORIES = {
    "guaranteed_returns": "承诺收益",
    "contact_diversion": "导流私聊",
    "illegal_fundraising": "非法集资",
    "profanity": "不文明用语",
}
AGES = {"1": "1 小时以上", "24": "1 天以上", "72": "3 天以上"}
OUTCOMES = {
    "open": "待处理",
    "closed": "已处理",
    "published": "已发布",
    "pending_review": "待审核",
    "removed": "已删除",
    "approve": "通过",
    "reject": "驳回",
    "remove": "删除",
    "escalate": "升级",
    "mute": "禁言",
    "terms": "关键词",
}
DEFAULT_REASONS = {
    "approve": "符合社区规范",
    "remove": "违反社区规范",
    "reject": "违反社区规范",
    "escalate": "需要上级复核",
}

i18n.add(
    {
        "审核队列": "Review queue",
        "待审核": "Pending",
        "已升级": "Escalated",
        "已通过": "Approved",
        "已驳回": "Rejected",
        "已删除": "Removed",
        "关键词过滤": "Term filter",
        "用户举报": "User reports",
        "拦截": "Block",
        "送审": "Review",
        "标记": "Flag",
        "承诺收益": "Guaranteed returns",
        "导流私聊": "Contact diversion",
        "非法集资": "Illegal fundraising",
        "不文明用语": "Profanity",
        "原因": "Reason",
        "类别": "Category",
        "时长": "Age",
        "1 小时以上": "Over 1 hour",
        "1 天以上": "Over 1 day",
        "3 天以上": "Over 3 days",
        "作者": "Author",
        "内容": "Content",
        "提交时间": "Queued",
        "通过": "Approve",
        "删除": "Remove",
        "升级": "Escalate",
        "决定理由": "Reason for the decision",
        "符合社区规范": "Meets the community rules",
        "违反社区规范": "Breaks the community rules",
        "需要上级复核": "Needs a senior review",
        "快捷键": "Shortcuts",
        "下一条": "next",
        "上一条": "previous",
        "打开": "open",
        "新": "New",
        "队列为空。": "The queue is empty.",
        "审核项": "Review item",
        "命中的关键词已高亮显示。": "Matched terms are highlighted.",
        "图片": "Images",
        "作者历史": "Author's history",
        "禁言至 {until}": "Muted until {until}",
        "以往审核": "Earlier reviews",
        "最近发布": "Latest posts",
        "此内容的以往决定": "Earlier decisions on this content",
        "禁言用户": "Mute the author",
        "小时": "Hours",
        "禁言": "Mute",
        "已处理：{decision}": "Decided: {decision}",
        "关键词库": "Term lists",
        "版本 {v}": "Version {v}",
        "类别名（英文小写）": "Category (lowercase latin)",
        "处理方式": "Action",
        "关键词（每行一个）": "Terms (one per line)",
        "新增类别": "Add a category",
        "测试文本": "Test this text",
        "输入一段文字，查看保存前的命中情况。": "Type some text to see what would match before you save.",
        "测试": "Test",
        "保存": "Save",
        "已保存。": "Saved.",
        "结果：{action}": "Result: {action}",
        "放行": "Allow",
        "审核日志": "Audit log",
        "审核员": "Moderator",
        "对象类型": "Target kind",
        "帖子": "Post",
        "评论": "Comment",
        "用户": "User",
        "关键词": "Terms",
        "通过 (approve)": "Approve",
        "驳回 (reject)": "Reject",
        "删除 (remove)": "Remove",
        "升级 (escalate)": "Escalate",
        "禁言 (mute)": "Mute",
        "关键词 (terms)": "Terms",
        "已处理": "Decided",
        "操作失败": "Failed",
        "举报 {n} 次": "Reported {n} times",
        "待处理": "Open",
        "驳回": "Reject",
    }
)


def _label(table: dict[str, str], key: str | None) -> str:
    return table.get(key or "", key or "—")


def _common() -> dict[str, Any]:
    return {
        "STATES": STATES,
        "REASONS": REASONS,
        "ACTIONS": ACTIONS,
        "CATEGORIES": CATEGORIES,
        "AGES": AGES,
        "DEFAULT_REASONS": DEFAULT_REASONS,
        "OUTCOMES": OUTCOMES,
        "label": _label,
    }


@router.get("/console/moderation", name="moderation.queue", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    staff: ModeratorStaff,
    db: DbSession,
    rt: Rt,
    state: Annotated[str, Query(max_length=16)] = "pending",
    reason: Annotated[str, Query(max_length=16)] = "",
    category: Annotated[str, Query(max_length=32)] = "",
    age: Annotated[str, Query(max_length=4)] = "",
    cursor: Cursor = None,
) -> Response:
    if state not in QUEUE_STATES or (reason and reason not in REASONS) or (age and age not in AGES):
        raise ValidationFailed("unknown filter")
    page = await moderation.queue(
        db,
        limit=console_settings(rt).page_size,
        cursor=cursor,
        state=state,
        reason=reason or None,
        category=category or None,
        older_than_h=int(age) if age else None,
        now=rt.clock.now(),
    )
    counts = QueueCounts(**await moderation.counts(db))
    terms = TermsPublic.of(await moderation.get_terms(db))
    return render(
        request,
        "moderation/queue.html",
        page=page.page(QueueItem.of),
        counts=counts,
        state=state,
        reason=reason,
        category=category,
        age=age,
        categories=sorted(terms.categories),
        live=state in ("pending", "open") and not (reason or category or age or cursor),
        **_common(),
    )


@router.get("/console/moderation/items/{item_id}", name="moderation.item", response_class=HTMLResponse)
async def item_page(request: Request, item_id: str, staff: ModeratorStaff, db: DbSession, rt: Rt) -> Response:
    item = ItemDetail.of(await moderation.item_detail(db, rt, item_id=item_id))
    return render(
        request,
        "moderation/item.html",
        item=item,
        pieces=termfilter.segments(item.text, [termfilter.Span(**s.model_dump()) for s in item.spans]),
        **_common(),
    )


@router.get(
    "/console/moderation/items/{item_id}/row", name="moderation.item_row", response_class=HTMLResponse
)
async def item_row(request: Request, item_id: str, staff: ModeratorStaff, db: DbSession, rt: Rt) -> Response:
    """One queue row, for the queue page to add an item that arrived while it was open."""
    item = ItemDetail.of(await moderation.item_detail(db, rt, item_id=item_id))
    return render(request, "moderation/row_only.html", item=item, **_common())


@router.post("/console/moderation/items/{item_id}/decision", name="moderation.decide", dependencies=[Csrf])
async def decide(
    request: Request,
    item_id: str,
    staff: ModeratorStaff,
    db: DbSession,
    rt: Rt,
    action: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A decision from the item page's form, or from the queue's script (JSON)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = DecisionIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise ValidationFailed("invalid decision") from exc
    else:
        try:
            body = DecisionIn(action=action, reason=reason.strip() or DEFAULT_REASONS.get(action, ""))  # type: ignore[arg-type]
        except ValidationError as exc:
            raise ValidationFailed("invalid decision", field="action") from exc
    done = await moderation.act(
        db, rt, moderator_id=staff.id, item_id=item_id, action=body.action, reason=body.reason
    )
    request.state.audit = {"decision": body.action, "reason": body.reason, "target": done.item.target_id}
    if wants_json(request):
        return JSONResponse({"item_id": item_id, "action": body.action, "target_status": done.target_status})
    return RedirectResponse(f"/console/moderation/items/{item_id}", status_code=303)


@router.post("/console/moderation/users/{user_id}/mute", name="moderation.mute", dependencies=[Csrf])
async def mute(
    request: Request,
    user_id: str,
    staff: ModeratorStaff,
    db: DbSession,
    rt: Rt,
    hours: Annotated[int, Form(ge=1, le=24 * 365)],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    until = await moderation.mute(db, rt, moderator_id=staff.id, user_id=user_id, hours=hours, reason=reason)
    request.state.audit = {"hours": hours, "reason": reason, "until": until.isoformat()}
    target = back if back.startswith("/console/moderation") else "/console/moderation"
    return RedirectResponse(target, status_code=303)


@router.get("/console/moderation/terms", name="moderation.terms", response_class=HTMLResponse)
async def terms_page(request: Request, staff: ModeratorStaff, db: DbSession) -> Response:
    terms = TermsPublic.of(await moderation.get_terms(db))
    return render(
        request,
        "moderation/terms.html",
        terms=terms,
        saved=bool(request.query_params.get("saved")),
        **_common(),
    )


@router.post("/console/moderation/terms/preview", name="moderation.preview_terms", dependencies=[Csrf])
async def preview_terms(request: Request, staff: ModeratorStaff, db: DbSession, rt: Rt) -> Response:
    """What the unsaved lists in the editor would match in a text (JSON in, JSON out)."""
    try:
        body = TermsPreviewIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise ValidationFailed("invalid term lists or text") from exc
    request.state.audit = {"target_kind": "terms", "chars": len(body.text)}
    config = {n: c.model_dump() for n, c in body.categories.items()} if body.categories is not None else None
    preview = TermsPreview.of(await moderation.preview_terms(db, rt, text=body.text, config=config))
    return JSONResponse(preview.model_dump())


@router.post("/console/moderation/terms", name="moderation.save_terms", dependencies=[Csrf])
async def save_terms(
    request: Request,
    staff: ModeratorStaff,
    db: DbSession,
    rt: Rt,
    name: Annotated[list[str], Form()],
    action: Annotated[list[str], Form()],
    terms: Annotated[list[str], Form()],
    expected_version: Annotated[int, Form(ge=0)],
) -> Response:
    if not len(name) == len(action) == len(terms):
        raise ValidationFailed("each category needs a name, an action and its terms")
    categories = {
        n.strip(): {"action": a, "terms": [t.strip() for t in ts.splitlines() if t.strip()]}
        for n, a, ts in zip(name, action, terms, strict=True)
        if n.strip()
    }
    try:
        body = TermsIn.model_validate({"categories": categories, "expected_version": expected_version})
    except ValidationError as exc:
        raise ValidationFailed("invalid term lists", errors=len(exc.errors())) from exc
    saved = await moderation.put_terms(
        db,
        rt,
        moderator_id=staff.id,
        config={n: c.model_dump() for n, c in body.categories.items()},
        expected_version=body.expected_version,
    )
    request.state.audit = {"target_kind": "terms", "target_id": str(saved.version)}
    return RedirectResponse("/console/moderation/terms?saved=1", status_code=303)


@router.get("/console/moderation/audit", name="moderation.audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    staff: ModeratorStaff,
    db: DbSession,
    rt: Rt,
    action: Annotated[str, Query(max_length=16)] = "",
    moderator: Annotated[str, Query(max_length=40)] = "",
    target_kind: Annotated[str, Query(max_length=12)] = "",
    days: Annotated[int | None, Query(ge=1, le=366)] = None,
    cursor: Cursor = None,
) -> Response:
    since: datetime | None = rt.clock.now() - timedelta(days=days) if days else None
    page = await moderation.audit_log(
        db,
        limit=console_settings(rt).page_size,
        cursor=cursor,
        action=action or None,
        moderator_id=moderator or None,
        target_kind=target_kind or None,
        since=since,
    )
    return render(
        request,
        "moderation/audit.html",
        page=page.page(AuditPublic.of),
        action=action,
        moderator=moderator,
        target_kind=target_kind,
        days=days,
        **_common(),
    )
