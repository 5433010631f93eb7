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


async def test_widget_sizes_dark_variant_and_energy_balls(client, rt, users):
    from tests.games.helpers import event, ripe_ball, spend

    li = await users.make("李娜")

    async def widget(**params):
        r = await client.get("/v1/forest/widget.png", params=params, headers=li.headers)
        assert r.status_code == 200, r.text
        return r, Image.open(io.BytesIO(r.content)).convert("RGB")

    w, h = images.WIDGET_SIZE
    plain, img1 = await widget()
    for scale in (2, 3):
        r, img = await widget(scale=scale)
        assert img.size == (w * scale, h * scale) and r.headers["etag"] != plain.headers["etag"]
    dark, img_dark = await widget(theme="dark")
    assert sum(img_dark.getpixel((2, 2))) < 150 < sum(img1.getpixel((2, 2)))  # a dark background
    assert dark.headers["etag"] != plain.headers["etag"]
    for bad in ({"scale": 4}, {"theme": "blue"}):
        r = await client.get("/v1/forest/widget.png", params=bad, headers=li.headers)
        assert r.status_code == 422

    ball = await ripe_ball(client, rt, li)  # a ripe ball now shows, and one ripening
    await spend(client, rt, [event(li.id, "transit", at=rt.clock.now())])
    with_balls, img_balls = await widget()
    assert with_balls.headers["etag"] != plain.headers["etag"]
    ripe_color = images.THEMES["light"]["ripe"]
    rgb = tuple(int(ripe_color[i : i + 2], 16) for i in (1, 3, 5))
    assert rgb in {c for _, c in img_balls.getcolors(1 << 20)}  # the ripe ball is drawn
    assert rgb not in {c for _, c in img1.getcolors(1 << 20)}
    r = await client.get(
        "/v1/forest/widget.png", headers={**li.headers, "If-None-Match": with_balls.headers["etag"]}
    )
    assert r.status_code == 304 and not r.content
    await client.post(f"/v1/forest/balls/{ball['id']}/collect", headers=li.headers)
    after, _ = await widget()
    assert after.headers["etag"] != with_balls.headers["etag"]  # collected: no longer shown
