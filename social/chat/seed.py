"""Demo chats for Li Na: a direct chat with Wang Wei and the group "周末徒步" with her friends
(where Wang Wei sends a photo: an image message)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from app.db import transaction
from app.seed import SeedContext
from content.media import service as media
from social.chat import service as chat

DIRECT = [
    ("wangwei", "娜娜，周六有空吗？"),
    ("lina", "有呀，怎么了？"),
    ("wangwei", "想约你去香山看红叶 🍁"),
    ("lina", "好主意！叫上敏敏和杰哥一起吧"),
]
GROUP = [
    ("lina", "周六早上八点香山东门集合～"),
    ("zhangmin", "收到！我带水和零食"),
    ("chenjie", "我开车，能坐四个人 🚗"),
    ("wangwei", "太好了，我带相机"),
]


def _red_leaves_jpeg() -> bytes:
    """A small drawn "photo" of autumn hills for the demo's image message."""
    img = Image.new("RGB", (960, 640), "#90caf9")
    d = ImageDraw.Draw(img)
    d.polygon(
        [(0, 640), (0, 380), (260, 220), (520, 360), (760, 200), (960, 330), (960, 640)], fill="#c62828"
    )
    d.polygon([(0, 640), (0, 520), (300, 430), (640, 520), (960, 450), (960, 640)], fill="#ef6c00")
    d.ellipse([780, 60, 880, 160], fill="#fff59d")
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()


async def seed(ctx: SeedContext) -> None:
    if not ctx.first_run:
        return
    rt, u = ctx.rt, ctx.users
    async with rt.sessionmaker() as db:
        direct = await chat.get_or_create_direct(db, rt, u["lina"].id, u["wangwei"].id)
        group, _ = await chat.create_conversation(
            db,
            rt,
            creator_id=u["lina"].id,
            member_ids=[u["wangwei"].id, u["zhangmin"].id, u["chenjie"].id],
            title="周末徒步",
        )
        for conversation_id, lines in ((direct.id, DIRECT), (group.id, GROUP)):
            for n, (who, text) in enumerate(lines):
                async with transaction(db):
                    await chat.post_message(
                        db,
                        rt,
                        conversation_id=conversation_id,
                        sender_id=u[who].id,
                        kind=chat.MessageKind.TEXT,
                        body={"text": text},
                        cid=f"seed-{n}",
                    )
        photo = await media.upload(db, rt, owner_id=u["wangwei"].id, data=_red_leaves_jpeg())
        await chat.send_message(
            db,
            rt,
            user_id=u["wangwei"].id,
            conversation_id=group.id,
            cid="seed-photo",
            kind=chat.MessageKind.IMAGE,
            body={"kind": "image", "media_id": photo.id},
        )
    ctx.extras["chat"] = {"direct_lina_wangwei": direct.id, "group_hiking": group.id}
