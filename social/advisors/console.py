"""The advisor workbench (``/console/advisor``) and the advisor matching page for admins
(``/console/ops/advisors``).

Every page calls the same service functions as ``/v1/advisor/…`` and ``/v1/admin/advisors…``:
an advisor sees only their own clients because ``advisors.access_client`` says so, here
as over REST. Chat runs in the page over ``/v1/ws`` (``static/chat.js``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.console import i18n
from app.console.config import console_settings
from app.console.web import AUDIT_VIEW, Csrf, Staff, console_router, register, render, staff_with, wants_json
from app.deps import DbSession, Rt
from app.errors import ValidationFailed
from app.pagination import Cursor
from content.products import service as products_service
from social.advisors import service as advisors
from social.advisors.schemas import (
    AdvisorLoad,
    AssignmentPublic,
    ClientActivity,
    ClientDetail,
    ClientSummary,
    Inbox,
    NotePublic,
)
from social.chat import service as chat
from social.chat.schemas import MessagePublic

register("advisors", Path(__file__).resolve().parent)
router = console_router()

AdvisorStaff = Annotated[Staff, Depends(staff_with("advisor"))]
AdminStaff = Annotated[Staff, Depends(staff_with("admin"))]

RISK_PROFILES = {"C1": "保守型", "C2": "稳健型", "C3": "平衡型", "C4": "成长型", "C5": "进取型"}
SORTS = {"last_active": "最近活跃", "name": "姓名", "assigned": "最新分配", "id": "默认"}

i18n.add(
    {
        "我的客户": "My clients",
        "搜索姓名或手机尾号": "Search name or last phone digits",
        "风险等级": "Risk profile",
        "地区": "Region",
        "排序": "Sort",
        "最近活跃": "Last active",
        "姓名": "Name",
        "最新分配": "Newest assigned",
        "默认": "Default",
        "客户": "Client",
        "持卡": "Cardholder",
        "是": "Yes",
        "否": "No",
        "消息": "Messages",
        "能量": "Energy",
        "步数": "Steps",
        "鸡蛋": "Eggs",
        "未读消息": "Unread messages",
        "没有未读消息。": "No unread messages.",
        "没有符合条件的客户。": "No clients match.",
        "保守型": "Conservative",
        "稳健型": "Moderate",
        "平衡型": "Balanced",
        "成长型": "Growth",
        "进取型": "Aggressive",
        "客户概况": "Summary",
        "资料（客户授权）": "Profile (shared by the client)",
        "语言": "Language",
        "分配时间": "Assigned",
        "最近活动": "Recent activity",
        "游戏": "Game",
        "内容": "Content",
        "收取能量": "Collected energy",
        "收取好友能量": "Collected a friend's energy",
        "种树": "Planted a tree",
        "暂无。": "None yet.",
        "备注（仅理财经理可见）": "Notes (advisors only)",
        "添加备注": "Add note",
        "聊天": "Chat",
        "输入消息…": "Type a message…",
        "发送": "Send",
        "分享产品": "Share a product",
        "产品": "Product",
        "或自定义产品": "Or another product",
        "产品编号": "Product id",
        "产品名称": "Product name",
        "链接": "Link",
        "分享到聊天": "Share in chat",
        "对方已读": "Read",
        "对方未读": "Unread",
        "发送中…": "Sending…",
        "发送失败": "Not sent",
        "产品卡片": "Product card",
        "转账": "Transfer",
        "红包": "Red packet",
        "图片": "Image",
        "系统消息": "System",
        "已发布": "Published",
        "待审核": "Pending review",
        "已删除": "Removed",
        "赞": "Likes",
        "评论": "Comments",
        "返回客户列表": "Back to my clients",
        "理财经理匹配": "Advisor matching",
        "运行匹配": "Run matching",
        "已分配 {n} 位客户，{u} 位未分配。": "Assigned {n} clients; {u} left unassigned.",
        "理财经理": "Advisor",
        "容量": "Capacity",
        "客户数": "Clients",
        "分配": "Assignments",
        "匹配度": "Fit",
        "改派给": "Reassign to",
        "改派": "Reassign",
        "收件箱": "Inbox",
        "共 {n} 条未读": "{n} unread",
        "第一页": "First page",
    }
)


def _risk_label(code: str | None) -> str | None:
    return RISK_PROFILES.get(code or "", code)


@router.get("/console/advisor", name="advisors.clients", response_class=HTMLResponse)
async def clients_page(
    request: Request,
    staff: AdvisorStaff,
    db: DbSession,
    rt: Rt,
    q: Annotated[str, Query(max_length=64)] = "",
    risk: Annotated[str, Query(max_length=16)] = "",
    region: Annotated[str, Query(max_length=32)] = "",
    sort: Annotated[str, Query(max_length=16)] = "last_active",
    cursor: Cursor = None,
) -> Response:
    if sort not in SORTS:
        raise ValidationFailed("unknown sort", field="sort")
    page = await advisors.clients(
        db,
        rt,
        advisor_id=staff.id,
        limit=console_settings(rt).page_size,
        cursor=cursor,
        q=q or None,
        risk_profile=risk or None,
        region=region or None,
        sort=sort,
    )
    facets = await advisors.client_facets(db, advisor_id=staff.id)
    box = Inbox.model_validate(await advisors.inbox(db, advisor_id=staff.id))
    return render(
        request,
        "advisors/clients.html",
        page=page.page(ClientSummary.of),
        facets=facets,
        inbox=box,
        q=q,
        risk=risk,
        region=region,
        sort=sort,
        sorts=SORTS,
        risk_label=_risk_label,
    )


@router.get("/console/advisor/inbox", name="advisors.inbox", response_class=HTMLResponse)
async def inbox_page(request: Request, staff: AdvisorStaff, db: DbSession) -> Response:
    box = Inbox.model_validate(await advisors.inbox(db, advisor_id=staff.id))
    template = "advisors/inbox_panel.html" if request.query_params.get("panel") else "advisors/inbox.html"
    return render(request, template, inbox=box)


@router.get(
    "/console/advisor/clients/{client_id}",
    name="advisors.client",
    response_class=HTMLResponse,
    openapi_extra=AUDIT_VIEW,
)
async def client_page(
    request: Request, client_id: str, staff: AdvisorStaff, db: DbSession, rt: Rt
) -> Response:
    detail = ClientDetail.of(await advisors.client_detail(db, rt, advisor_id=staff.id, client_id=client_id))
    conversation_id = detail.conversation_id or await advisors.client_conversation(
        db, rt, advisor_id=staff.id, client_id=client_id
    )
    history = await chat.list_messages(
        db, user_id=staff.id, conversation_id=conversation_id, after_seq=None, before_seq=None, limit=50
    )
    peer = await chat.direct_states(db, user_id=client_id, peer_ids=[staff.id])
    client_read = peer[staff.id].last_read_seq if staff.id in peer else 0
    notes = await advisors.notes(db, advisor_id=staff.id, client_id=client_id, limit=20, cursor=None)
    activity = await advisors.client_activity(db, advisor_id=staff.id, client_id=client_id)
    return render(
        request,
        "advisors/client.html",
        client=detail,
        conversation_id=conversation_id,
        history=[MessagePublic.model_validate(m) for m in history.items],
        client_read=client_read,
        notes=notes.page(NotePublic.model_validate),
        activity=ClientActivity.model_validate(activity),
        # the catalogue's products suitable for this client (any other by id: refused if not)
        products=(await products_service.catalogue(db, risk_profile=detail.risk_profile, kind=None)).items,
        risk_label=_risk_label,
    )


def _back(client_id: str) -> str:
    return f"/console/advisor/clients/{client_id}"


@router.post("/console/advisor/clients/{client_id}/notes", name="advisors.add_note", dependencies=[Csrf])
async def add_note(
    request: Request,
    client_id: str,
    staff: AdvisorStaff,
    db: DbSession,
    rt: Rt,
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    note = await advisors.add_note(db, rt, advisor_id=staff.id, client_id=client_id, text=text)
    request.state.audit = {"note_id": note.id}
    return RedirectResponse(_back(client_id) + "#notes", status_code=303)


@router.post(
    "/console/advisor/clients/{client_id}/products", name="advisors.share_product", dependencies=[Csrf]
)
async def share_product(
    request: Request,
    client_id: str,
    staff: AdvisorStaff,
    db: DbSession,
    rt: Rt,
    preset: Annotated[str, Form(max_length=64)] = "",
    product_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    chosen = product_id.strip() or preset.strip()
    if not chosen:
        raise ValidationFailed("choose a product", field="preset")
    shared = await advisors.share_product(db, rt, advisor_id=staff.id, client_id=client_id, product_id=chosen)
    request.state.audit = {"product_id": chosen, "seq": shared.seq}
    if wants_json(request):
        return JSONResponse({"conversation_id": shared.conversation_id, "seq": shared.seq})
    return RedirectResponse(_back(client_id) + "#chat", status_code=303)


# ---- the advisor matching page (admins) --------------------------------------------------------------


@router.get("/console/ops/advisors", name="advisors.matching", response_class=HTMLResponse)
async def matching_page(
    request: Request,
    staff: AdminStaff,
    db: DbSession,
    rt: Rt,
    advisor: Annotated[str, Query(max_length=40)] = "",
    cursor: Cursor = None,
) -> Response:
    loads = [AdvisorLoad.model_validate(a) for a in await advisors.overview(db, rt)]
    found = await advisors.assignments(
        db, limit=console_settings(rt).page_size, cursor=cursor, advisor_id=advisor or None
    )
    page = found.page(AssignmentPublic.model_validate)
    result = request.query_params.get("matched")
    return render(request, "advisors/matching.html", loads=loads, page=page, advisor=advisor, result=result)


@router.post("/console/ops/advisors/match", name="advisors.run_match", dependencies=[Csrf])
async def run_match(request: Request, staff: AdminStaff, db: DbSession, rt: Rt) -> Response:
    result = await advisors.match(db, rt)
    request.state.audit = {
        "target_kind": "advisors",
        "assigned": result.assigned,
        "unassigned": result.unassigned,
    }
    return RedirectResponse(
        f"/console/ops/advisors?matched={result.assigned}&unassigned={result.unassigned}", status_code=303
    )


@router.post("/console/ops/advisors/assignments/{client_id}", name="advisors.reassign", dependencies=[Csrf])
async def reassign(
    request: Request,
    client_id: str,
    staff: AdminStaff,
    db: DbSession,
    rt: Rt,
    advisor_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    done = await advisors.reassign(db, rt, client_id=client_id, advisor_id=advisor_id)
    request.state.audit = {"advisor_id": done.advisor_id}
    return RedirectResponse("/console/ops/advisors", status_code=303)
