"""The share poster: a PNG in Chinese with the referral code and a QR code of the share
URL (pure; the CJK font from ``app.fonts``)."""

from __future__ import annotations

import io

import qrcode
from PIL import Image, ImageDraw

from app.fonts import cjk_font

WIDTH, HEIGHT = 720, 1080


def render(*, code: str, share_url: str, reward_yuan: int, inviter: str = "") -> bytes:
    """Render the poster; CPU-bound, so callers run it in a thread."""
    img = Image.new("RGB", (WIDTH, HEIGHT), (198, 40, 40))
    draw = ImageDraw.Draw(img)
    for y in range(HEIGHT):  # a soft vertical gradient, red to deep red
        shade = int(40 * y / HEIGHT)
        draw.line([(0, y), (WIDTH, y)], fill=(198 - shade, 40, 40))
    title, body, big = cjk_font(72), cjk_font(34), cjk_font(80)
    draw.text((WIDTH // 2, 100), "圈子", font=title, fill=(255, 224, 130), anchor="mm")
    invite = f"{inviter} 邀请你加入圈子" if inviter else "邀请你加入圈子"
    draw.text((WIDTH // 2, 190), invite, font=body, fill="white", anchor="mm")
    draw.text(
        (WIDTH // 2, 245),
        f"开通本行银行卡，邀请人得 {reward_yuan} 元奖励",
        font=body,
        fill="white",
        anchor="mm",
    )
    qr = qrcode.QRCode(box_size=10, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(share_url)
    qr.make(fit=True)
    qr_img = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    qr_img = qr_img.resize((440, 440), Image.Resampling.NEAREST)
    img.paste(qr_img, ((WIDTH - 440) // 2, 320))
    draw.text((WIDTH // 2, 830), "扫码或输入邀请码", font=body, fill=(255, 224, 130), anchor="mm")
    draw.text((WIDTH // 2, 920), code, font=big, fill="white", anchor="mm")
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()
