"""The operations dashboard (``/console/ops``, admins) and the staff audit log.

Figures and charts come from the service's own metrics, sampled into a small time series
(``app.ops.timeseries``); charts are SVG drawn on the server (``app.ops.charts``). The
panel redraws itself every few seconds (``static/ops.js`` fetches it again).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.console import i18n
from app.console import service as console
from app.console.config import console_settings
from app.console.web import Staff, console_router, lang_of, register, render, staff_with
from app.deps import DbSession, Rt
from app.errors import ValidationFailed
from app.ops import charts, timeseries
from app.pagination import Cursor
from app.runtime import Runtime

register("ops", Path(__file__).resolve().parent)
router = console_router()
AdminStaff = Annotated[Staff, Depends(staff_with("admin"))]
WINDOWS = {"hour": timeseries.HOUR, "day": timeseries.DAY}

i18n.add(
    {
        "最近一小时": "Last hour",
        "最近一天": "Last day",
        "消息/秒": "Messages/s",
        "每秒消息数": "Messages per second",
        "红包": "Red packets",
        "发出": "Sent",
        "抢到": "Grabbed",
        "红包发出与抢到": "Red packets sent and grabbed",
        "转账": "Transfers",
        "过期退款": "Expired refunds",
        "转账与过期退款": "Transfers and expired refunds",
        "收取能量（克）": "Energy collected (g)",
        "能量收取": "Energy collected",
        "审核队列长度": "Moderation queue length",
        "审核队列": "Moderation queue",
        "WebSocket 连接数": "WebSocket connections",
        "WebSocket 连接": "WebSocket connections",
        "错误率（%）": "Error rate (%)",
        "错误率": "Error rate",
        "各路由族 p99 延迟（毫秒）": "p99 latency per route family (ms)",
        "p99 延迟（毫秒）": "p99 latency (ms)",
        "毫秒": "ms",
        "次数": "Count",
        "克": "grams",
        "每分钟": "per minute",
        "每 10 分钟": "per 10 minutes",
        "短信验证码": "Login codes sent",
        "数据每 {s} 秒采样一次，保存在 Redis 中。": "Sampled every {s} s, kept in Redis.",
        "更新于 {at}": "Updated {at}",
        "理财经理匹配": "Advisor matching",
        "员工操作日志": "Staff audit log",
        "操作前缀": "Action (prefix)",
        "人员编号": "Staff id",
    }
)


SLOWEST = 10  # route families on the p99 bar chart


def _labels(series: timeseries.Series, tz: ZoneInfo) -> list[str]:
    return [s.astimezone(tz).strftime("%H:%M") for s in series.starts]


def _ms(v: float | None) -> float | None:
    return round(v * 1000, 1) if v is not None else None


def dashboard(rt: Runtime, series: timeseries.Series, lang: str) -> dict[str, Any]:
    """The figures and the charts (SVG) of one window, in the page's language."""
    _ = i18n.translator(lang)
    tz = ZoneInfo(rt.settings.timezone)
    labels = _labels(series, tz)
    every = 10 if series.res is timeseries.HOUR else 18
    step = _("每分钟") if series.res is timeseries.HOUR else _("每 10 分钟")
    last_full = series.rows[-2] if len(series.rows) > 1 else {}
    queue = next((v for v in reversed(series.gauge("queue_depth")) if v is not None), 0.0)
    sockets = next((v for v in reversed(series.worker_sum("ws_open")) if v is not None), 0.0)
    http, errors = series.total("http"), series.total("http_5xx")
    families = series.families()
    p99 = {f: _ms(series.p99(f)) for f in families}
    # The slowest route families, slowest first: a bar each stays readable (about 30 exist).
    slowest = dict(sorted(p99.items(), key=lambda kv: -(kv[1] or 0))[:SLOWEST])
    figures = [
        ("messages_per_s", _("消息/秒"), round(last_full.get("c:messages", 0.0) / series.res.step_s, 2)),
        ("red_packets_sent", _("红包") + " · " + _("发出"), int(series.total("red_packets_sent"))),
        ("red_packet_grabs", _("红包") + " · " + _("抢到"), int(series.total("red_packet_grabs"))),
        ("transfers", _("转账"), int(series.total("transfers"))),
        ("energy_g", _("能量收取"), int(series.total("energy_g"))),
        ("queue_depth", _("审核队列"), int(queue)),
        ("ws_open", _("WebSocket 连接"), int(sockets)),
        ("error_rate", _("错误率"), f"{(errors / http * 100 if http else 0):.2f}%"),
    ]
    top = sorted((f for f in families if f not in ("ops", "docs")), key=lambda f: -(p99[f] or 0))[:4]
    chart_list = [
        (
            "messages",
            charts.line(
                _("每秒消息数"),
                labels,
                {_("消息/秒"): series.per_second("messages")},
                y_title=_("消息/秒"),
                label_every=every,
            ),
        ),
        (
            "red_packets",
            charts.line(
                _("红包发出与抢到"),
                labels,
                {
                    _("发出"): series.counter("red_packets_sent"),
                    _("抢到"): series.counter("red_packet_grabs"),
                },
                y_title=step,
                label_every=every,
            ),
        ),
        (
            "transfers",
            charts.line(
                _("转账与过期退款"),
                labels,
                {_("转账"): series.counter("transfers"), _("过期退款"): series.counter("refunds")},
                y_title=step,
                label_every=every,
            ),
        ),
        (
            "energy",
            charts.line(
                _("收取能量（克）"),
                labels,
                {_("能量收取"): series.counter("energy_g")},
                y_title=_("克"),
                label_every=every,
            ),
        ),
        (
            "queue",
            charts.line(
                _("审核队列长度"),
                labels,
                {_("审核队列"): series.gauge("queue_depth")},
                y_title=_("次数"),
                label_every=every,
                dots=True,
            ),
        ),
        (
            "sockets",
            charts.line(
                _("WebSocket 连接数"),
                labels,
                {_("WebSocket 连接"): series.worker_sum("ws_open")},
                y_title=_("次数"),
                label_every=every,
                dots=True,
            ),
        ),
        (
            "errors",
            charts.line(
                _("错误率（%）"),
                labels,
                {_("错误率"): [None if v is None else round(v * 100, 2) for v in series.error_rate()]},
                y_title="%",
                label_every=every,
                dots=True,
            ),
        ),
        ("p99", charts.bars(_("各路由族 p99 延迟（毫秒）"), slowest, y_title=_("毫秒"))),
        (
            "p99_time",
            charts.line(
                _("p99 延迟（毫秒）"),
                labels,
                {f: [_ms(v) for v in series.p99_series(f)] for f in top},
                y_title=_("毫秒"),
                label_every=every,
                dots=True,
            ),
        ),
    ]
    return {"figures": figures, "charts": chart_list, "p99": p99}


async def _context(request: Request, rt: Rt, window: str) -> dict[str, Any]:
    if window not in WINDOWS:
        raise ValidationFailed("unknown window", field="window")
    series = await timeseries.read(rt, WINDOWS[window])
    return {
        "window": window,
        "windows": {"hour": "最近一小时", "day": "最近一天"},
        "sample_s": int(timeseries.SAMPLE_S),
        "updated": rt.clock.now(),
        **dashboard(rt, series, lang_of(request)),
    }


@router.get("/console/ops", name="ops.dashboard", response_class=HTMLResponse)
async def dashboard_page(
    request: Request, staff: AdminStaff, rt: Rt, window: Annotated[str, Query(max_length=8)] = "hour"
) -> Response:
    return render(request, "ops/dashboard.html", **await _context(request, rt, window))


@router.get("/console/ops/panel", name="ops.panel", response_class=HTMLResponse)
async def panel(
    request: Request, staff: AdminStaff, rt: Rt, window: Annotated[str, Query(max_length=8)] = "hour"
) -> Response:
    """The dashboard's figures and charts alone, for the page to redraw itself."""
    return render(request, "ops/panel.html", **await _context(request, rt, window))


@router.get("/console/ops/audit", name="ops.audit", response_class=HTMLResponse)
async def staff_audit(
    request: Request,
    staff: AdminStaff,
    db: DbSession,
    rt: Rt,
    action: Annotated[str, Query(max_length=48)] = "",
    who: Annotated[str, Query(max_length=40)] = "",
    days: Annotated[int | None, Query(ge=1, le=366)] = None,
    cursor: Cursor = None,
) -> Response:
    page = await console.actions(
        db,
        limit=console_settings(rt).page_size,
        cursor=cursor,
        staff_id=who or None,
        action=action or None,
        since=rt.clock.now() - timedelta(days=days) if days else None,
    )
    return render(request, "ops/audit.html", page=page, action=action, who=who, days=days)
