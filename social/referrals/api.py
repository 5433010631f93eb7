from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import HTMLResponse

from app.deps import CurrentUser, DbSession, Rt
from app.errors import Conflict, Expired, NotFound, documented
from social.referrals import service as referrals
from social.referrals.schemas import RedeemIn, RedeemPublic, ReferralMePublic

router = APIRouter(tags=["referrals"])


@router.get("/v1/referrals/me", response_model=ReferralMePublic)
async def my_referrals(user: CurrentUser, db: DbSession, rt: Rt) -> ReferralMePublic:
    return ReferralMePublic.of(await referrals.me(db, rt, user_id=user.id))


@router.get(
    "/v1/referrals/me/poster.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the share poster"}},
)
async def my_poster(user: CurrentUser, db: DbSession, rt: Rt) -> Response:
    png = await referrals.poster_png(db, rt, user_id=user.id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post(
    "/v1/referrals/redeem",
    status_code=201,
    response_model=RedeemPublic,
    responses=documented(
        NotFound("unknown referral code"),
        Conflict("already referred, already a cardholder, or a cycle"),
        Expired("signed up too long ago"),
    ),
)
async def redeem(body: RedeemIn, user: CurrentUser, db: DbSession, rt: Rt) -> RedeemPublic:
    return RedeemPublic.of(await referrals.redeem(db, rt, user_id=user.id, code=body.code))


CodePath = Annotated[str, Path(max_length=16)]

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 0; font-family: "Noto Sans CJK SC", "PingFang SC", sans-serif; background: #fbe9e7;
  color: #3e2723; }}
main {{ max-width: 480px; margin: 0 auto; padding: 24px 16px 48px; }}
h1 {{ color: #b71c1c; font-size: 24px; }} img {{ width: 100%; border-radius: 12px; }}
.code {{ font-size: 32px; letter-spacing: 4px; font-weight: bold; color: #b71c1c; }}
ol li {{ margin: 8px 0; line-height: 1.6; }}
</style></head>
<body><main>
{body}
</main></body></html>
"""


def _page(status: int, title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=html.escape(title), body=body),
        status_code=status,
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get(
    "/r/{code}",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "the share page"},
        404: {"content": {"text/html": {}}, "description": "no such code"},
    },
)
async def share_page(code: CodePath, db: DbSession, rt: Rt) -> HTMLResponse:
    """The public page a shared referral link opens (no login): the poster and how to redeem."""
    try:
        page = await referrals.landing(db, rt, code=code)
    except NotFound:
        return _page(404, "邀请码无效", "<h1>邀请码无效</h1><p>这个邀请链接不存在，请向好友再要一次。</p>")
    inviter, c = html.escape(page.inviter), html.escape(page.code)
    body = f"""<h1>{inviter} 邀请你加入圈子</h1>
<img src="/r/{c}/poster.png" alt="{inviter} 的邀请海报，邀请码 {c}" width="720" height="1080">
<p>邀请码</p><p class="code">{c}</p>
<h2>如何领取</h2>
<ol>
<li>打开银行 App（没有请先下载），用手机号登录。</li>
<li>进入「圈子 › 邀请有礼」，输入邀请码 <b>{c}</b>。</li>
<li>绑定本行银行卡后，{inviter} 获得 {page.reward_yuan} 元奖励。</li>
</ol>
<p><small>新用户注册后 {page.redeem_days} 天内可使用邀请码，每人只能使用一次。</small></p>"""
    return _page(200, f"{page.inviter} 邀请你加入圈子", body)


@router.get(
    "/r/{code}/poster.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the share poster"}},
)
async def share_poster(code: CodePath, db: DbSession, rt: Rt) -> Response:
    """The poster of a shared code (public, like the page)."""
    png = await referrals.landing_poster(db, rt, code=code)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})
