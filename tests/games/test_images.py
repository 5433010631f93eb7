from __future__ import annotations

import io

from PIL import Image

from games.forest import images
from tests.games.test_forest import _give_energy
from tests.support.people import error_code


async def test_widget_and_certificate_are_pngs_of_the_documented_size(client, rt, users):
    li = await users.make("李娜")
    await _give_energy(rt, li.id, 30_000)
    r = await client.get("/v1/forest/widget.png", headers=li.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.format == "PNG" and img.size == images.WIDGET_SIZE
    tag = r.headers["etag"]
    again = await client.get("/v1/forest/widget.png", headers=li.headers)
    assert again.content == r.content and again.headers["etag"] == tag
    assert (
        await client.get("/v1/forest/widget.png", headers={**li.headers, "If-None-Match": tag})
    ).status_code == 304
    r = await client.post("/v1/forest/plant", json={"species_id": "camphor"}, headers=li.headers)
    assert r.status_code == 409 and error_code(r) == "insufficient_funds"  # 30 000 g is not enough
    assert (await client.get("/v1/forest/widget.png", headers=li.headers)).headers["etag"] == tag
    r = await client.post("/v1/forest/plant", json={"species_id": "saxaul"}, headers=li.headers)
    assert r.status_code == 200, r.text
    tree_id = r.json()["tree_id"]
    changed = await client.get("/v1/forest/widget.png", headers=li.headers)
    assert changed.headers["etag"] != tag
    r = await client.get(f"/v1/forest/trees/{tree_id}/certificate.png", headers=li.headers)
    assert r.status_code == 200
    cert = Image.open(io.BytesIO(r.content))
    assert cert.format == "PNG" and cert.size == images.CERTIFICATE_SIZE
    assert (
        await client.get("/v1/forest/trees/t_nope/certificate.png", headers=li.headers)
    ).status_code == 404


def test_chinese_text_is_drawn_with_real_glyphs_not_boxes():
    font = images._font(40)
    # Distinct characters have distinct glyph shapes (tofu boxes would all look alike).
    masks = {ch: bytes(font.getmask(ch)) for ch in "植树证书森林"}
    assert len(set(masks.values())) == len(masks)
    assert font.getbbox("梭")[2] > 20


def test_rendering_is_deterministic():
    state = images.CertificateState("t_1", "李娜", "梭梭树 Saxaul", "内蒙古阿拉善", 17900, "2026-11-25")
    first = images.render_certificate(state)
    images.render_certificate.cache_clear()
    assert images.render_certificate(state) == first
