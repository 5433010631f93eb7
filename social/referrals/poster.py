"""The share poster: a PNG with the referral code and a QR code of the share URL (pure)."""

from __future__ import annotations

import io

import qrcode
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 720, 1080


def render(*, code: str, share_url: str, reward_yuan: int) -> bytes:
    """Render the poster; CPU-bound, so callers run it in a thread."""
    img = Image.new("RGB", (WIDTH, HEIGHT), (198, 40, 40))
    draw = ImageDraw.Draw(img)
    for y in range(HEIGHT):  # a soft vertical gradient, red to deep red
        shade = int(40 * y / HEIGHT)
        draw.line([(0, y), (WIDTH, y)], fill=(198 - shade, 40, 40))
    title = ImageFont.load_default(size=64)
    body = ImageFont.load_default(size=34)
    big = ImageFont.load_default(size=80)
    draw.text((WIDTH // 2, 110), "Quanzi", font=title, fill=(255, 224, 130), anchor="mm")
    draw.text((WIDTH // 2, 190), "Join my circle", font=body, fill="white", anchor="mm")
    draw.text(
        (WIDTH // 2, 240), f"Link a card, I get {reward_yuan} yuan", font=body, fill="white", anchor="mm"
    )
    qr = qrcode.QRCode(box_size=10, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(share_url)
    qr.make(fit=True)
    qr_img = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    qr_img = qr_img.resize((440, 440), Image.Resampling.NEAREST)
    img.paste(qr_img, ((WIDTH - 440) // 2, 320))
    draw.text((WIDTH // 2, 840), "my code", font=body, fill=(255, 224, 130), anchor="mm")
    draw.text((WIDTH // 2, 920), code, font=big, fill="white", anchor="mm")
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()
