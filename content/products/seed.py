"""The demo catalogue: deposits, funds, cards and insurance across R1–R5, with the
compliance text each kind needs (before the posts that embed them)."""

from __future__ import annotations

from app.seed import SeedContext
from content.products import service as products
from content.products.schemas import ProductIn

_DEPOSIT = "本产品为存款产品，受《存款保险条例》保护，存款保险最高偿付限额为人民币50万元。"
_FUND = "基金有风险，投资需谨慎。基金过往业绩不代表其未来表现，管理人不保证基金一定盈利，也不保证最低收益。"
_CARD = "请理性消费，按时还款。逾期将产生利息并影响个人征信记录。"
_INSURANCE = "本产品由承保保险公司提供，保险责任、责任免除等以保险合同条款为准，请仔细阅读。"

CATALOGUE = [
    ProductIn(
        id="cd-3y",
        kind="deposit",
        name="大额存单 3 年期",
        issuer="示例银行",
        summary="20 万元起存，年利率 2.15%，可转让",
        risk_level="R1",
        compliance_text=_DEPOSIT,
        link="https://bank.example/products/cd-3y",
    ),
    ProductIn(
        id="deposit-zhizhi",
        kind="deposit",
        name="智能通知存款",
        issuer="示例银行",
        summary="5 万元起存，随存随取，按实际天数计息",
        risk_level="R1",
        compliance_text=_DEPOSIT,
        link="https://bank.example/products/deposit-zhizhi",
    ),
    ProductIn(
        id="fund-money",
        kind="fund",
        name="天天利货币基金",
        issuer="示例基金管理有限公司",
        summary="1 分钱起购，T+0 快速赎回",
        risk_level="R1",
        compliance_text=_FUND,
        link="https://bank.example/products/fund-money",
    ),
    ProductIn(
        id="fund-bond",
        kind="fund",
        name="稳健纯债债券基金 A",
        issuer="示例基金管理有限公司",
        summary="主投利率债与高等级信用债，波动较低",
        risk_level="R2",
        compliance_text=_FUND,
        link="https://bank.example/products/fund-bond",
    ),
    ProductIn(
        id="fund-dt-001",
        kind="fund",
        name="稳健定投组合",
        issuer="示例基金管理有限公司",
        summary="股债平衡，按月定投，适合长期积累",
        risk_level="R3",
        compliance_text=_FUND,
        link="https://bank.example/products/fund-dt-001",
    ),
    ProductIn(
        id="fund-csi300",
        kind="fund",
        name="沪深300指数增强基金",
        issuer="示例基金管理有限公司",
        summary="跟踪沪深300指数，力争超越基准",
        risk_level="R4",
        compliance_text=_FUND,
        link="https://bank.example/products/fund-csi300",
    ),
    ProductIn(
        id="fund-tech",
        kind="fund",
        name="科技创新混合基金",
        issuer="示例基金管理有限公司",
        summary="聚焦半导体与人工智能，波动较大",
        risk_level="R5",
        compliance_text=_FUND,
        link="https://bank.example/products/fund-tech",
    ),
    ProductIn(
        id="card-travel",
        kind="card",
        name="畅游信用卡",
        issuer="示例银行信用卡中心",
        summary="境外消费返现 3%，机场贵宾厅 6 次/年",
        risk_level="R1",
        compliance_text=_CARD,
        link="https://bank.example/products/card-travel",
    ),
    ProductIn(
        id="ins-medical",
        kind="insurance",
        name="安心百万医疗险",
        issuer="示例人寿保险股份有限公司",
        summary="一般医疗 200 万保额，年保费 300 元起",
        risk_level="R1",
        compliance_text=_INSURANCE,
        link="https://bank.example/products/ins-medical",
    ),
    ProductIn(
        id="ins-annuity",
        kind="insurance",
        name="金享年年养老年金保险",
        issuer="示例人寿保险股份有限公司",
        summary="60 岁起按年领取，终身给付",
        risk_level="R2",
        compliance_text=_INSURANCE,
        link="https://bank.example/products/ins-annuity",
    ),
]


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    for body in CATALOGUE:
        async with ctx.rt.sessionmaker() as db:
            await products.create(db, ctx.rt, body)
