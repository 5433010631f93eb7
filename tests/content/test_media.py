from __future__ import annotations

import functools
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from content.config import ContentSettings
from tests.content.helpers import new_post
from tests.support.people import error_code

ROOT = Path(__file__).resolve().parents[2]
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps_and_orientation(width: int = 400, height: int = 200) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90° clockwise to view" and carries a GPS position."""
    img = Image.new("RGB", (width, height), (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, width // 2, height))  # left half blue
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (39.0, 54.0, 15.0), 3: "E", 4: (116.0, 23.0, 30.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int) -> bytes:
    """A PNG claiming huge dimensions, with a tiny (truncated) image stream."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 1000))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is patched to claim other dimensions."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


async def upload(client, who, data: bytes, name: str = "photo.jpg", ctype: str = "image/jpeg"):
    return await client.post("/v1/media", files={"file": (name, data, ctype)}, headers=who.headers)


async def test_upload_strips_exif_and_gps_and_applies_orientation(client, users):
    alice = await users.make("alice")
    raw = jpeg_with_gps_and_orientation()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD)  # the upload does carry GPS
    r = await upload(client, alice, raw)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["width"], body["height"]) == (200, 400)  # turned upright
    assert body["url"].endswith(f"/v1/media/{body['id']}/original")
    got = await client.get(f"/v1/media/{body['id']}/original")
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/jpeg"
    assert "immutable" not in got.headers["cache-control"] and "max-age=300" in got.headers["cache-control"]
    stored = Image.open(io.BytesIO(got.content))
    exif = stored.getexif()
    assert not exif.get_ifd(GPS_IFD)
    assert GPS_IFD not in exif and ORIENTATION not in exif and len(exif) == 0
    assert b"Exif" not in got.content[:200] and b"PhoneMaker" not in got.content
    assert stored.size == (200, 400)
    # Upright: the blue half (originally left) is now on top.
    top, bottom = stored.getpixel((100, 50)), stored.getpixel((100, 350))
    assert top[2] > 150 and top[0] < 100
    assert bottom[0] > 150 and bottom[2] < 100
    thumb = await client.get(urlsplit(body["thumb_url"]).path)
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320


async def test_large_images_are_scaled_and_png_alpha_kept(client, users):
    alice = await users.make("alice")
    img = Image.new("RGBA", (3000, 1000), (10, 20, 30, 128))
    out = io.BytesIO()
    img.save(out, "PNG")
    r = await upload(client, alice, out.getvalue(), "x.png", "image/png")
    assert r.status_code == 201, r.text
    assert (r.json()["width"], r.json()["height"]) == (2048, 683)
    got = await client.get(f"/v1/media/{r.json()['id']}/thumb")
    assert got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (320, 107)


async def test_webp_is_accepted_by_content_whatever_the_name(client, users):
    alice = await users.make("alice")
    out = io.BytesIO()
    Image.new("RGB", (50, 40), "green").save(out, "WEBP")
    r = await upload(client, alice, out.getvalue(), "notes.txt", "text/plain")
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "data",
    [
        b"hello, I am not an image",
        b"GIF89a" + b"\x00" * 100,
        b"%PDF-1.4 ...",
        b"",
    ],
)
async def test_non_images_are_refused(client, users, data):
    alice = await users.make("alice")
    r = await upload(client, alice, data)
    assert r.status_code == 422 and error_code(r) == "validation_error"


async def test_gif_is_refused_even_if_named_jpg(client, users):
    alice = await users.make("alice")
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    assert (await upload(client, alice, out.getvalue())).status_code == 422


async def test_truncated_files_are_refused(client, users):
    alice = await users.make("alice")
    out = io.BytesIO()
    Image.effect_noise((300, 300), 50).convert("RGB").save(out, "JPEG")
    r = await upload(client, alice, out.getvalue()[:2000])
    assert r.status_code == 422, r.text
    out = io.BytesIO()
    Image.effect_noise((300, 300), 50).save(out, "PNG")
    r = await upload(client, alice, out.getvalue()[:3000], "x.png", "image/png")
    assert r.status_code == 422, r.text


@functools.cache
def png_bomb(width: int, height: int) -> bytes:
    """A whole, valid PNG of width × height black pixels: under 100 KB that decode to
    width · height · 3 bytes."""
    z = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)  # filter byte, then the RGB pixels
    body = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


BOMBS = {
    "30MP-png": lambda: png_bomb(6000, 5000),  # over our 25 MP cap, under Pillow's own warning
    "10GP-png-header": lambda: png_header(100_000, 100_000),
    "3.6GP-jpeg-header": lambda: jpeg_claiming(60_000, 60_000),  # in a few hundred bytes
}

# Run in a fresh interpreter and read its peak resident set (VmHWM, Linux): a new process
# image starts its own peak at exec, so what decoding adds shows, whatever this process
# (and earlier tests) did. (ru_maxrss will not do: it is carried across fork and exec.)
MEASURE = """
import json, sys
from content.config import ContentSettings
from content.media import images

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

data = open(sys.argv[1], "rb").read()
cs = ContentSettings()
before = peak_kib()
try:
    images.process(data, max_pixels=cs.media_max_pixels, original_px=cs.media_original_px, thumb_px=cs.media_thumb_px)
    outcome = "accepted"
except images.ImageRejected as exc:
    outcome = "too_large" if exc.too_large else "rejected"
print(json.dumps({"outcome": outcome, "grown_kib": peak_kib() - before}))
"""


@pytest.mark.parametrize("bomb", list(BOMBS))
async def test_decompression_bombs_are_refused_before_decoding(client, users, bomb):
    alice = await users.make("alice")
    r = await upload(client, alice, BOMBS[bomb](), "bomb.png", "image/png")
    assert r.status_code == 413, r.text
    assert error_code(r) == "payload_too_large"


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_refusing_a_bomb_decodes_nothing(tmp_path, bomb):
    path = tmp_path / "bomb"
    path.write_bytes(BOMBS[bomb]())
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout)
    assert got["outcome"] == "too_large"
    # the 30 MP one alone decodes to 90 MB (and 512 MB with the cap off)
    assert got["grown_kib"] < 16 * 1024, got


async def test_byte_cap(client, users, rt):
    rt.settings = rt.settings.model_copy(update={"content": ContentSettings(media_max_bytes=1000)})
    alice = await users.make("alice")
    out = io.BytesIO()
    Image.effect_noise((200, 200), 50).convert("RGB").save(out, "JPEG")
    r = await upload(client, alice, out.getvalue())
    assert r.status_code == 413


async def test_posts_take_only_my_own_media(client, users):
    alice = await users.make("alice")
    bob = await users.make("bob")
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "blue").save(out, "JPEG")
    mine = (await upload(client, alice, out.getvalue())).json()
    theirs = (await upload(client, bob, out.getvalue())).json()
    r = await client.post(
        "/v1/posts", json={"kind": "post", "text": "x", "media_ids": [theirs["id"]]}, headers=alice.headers
    )
    assert r.status_code == 422
    p = await new_post(client, alice, media_ids=[mine["id"]])
    assert p["media"] == [mine]


async def test_unknown_media_is_not_found(client):
    assert (await client.get("/v1/media/m_nope/original")).status_code == 404
    assert (await client.get("/v1/media/m_0123456789abcdefghjkmnpqrs/original")).status_code == 404
    assert (await client.get("/v1/media/..%2F..%2Fetc/original")).status_code == 404


async def test_a_removed_posts_images_are_not_served(client, users, rt):
    rt.settings = rt.settings.model_copy(update={"content": ContentSettings(report_threshold=1)})
    alice, reader = await users.make("alice"), await users.make("reader")
    mod = await users.make("mod", roles="moderator,user")
    img = (await upload(client, alice, jpeg_with_gps_and_orientation())).json()
    other = (await upload(client, alice, jpeg_with_gps_and_orientation())).json()
    p = await new_post(client, alice, media_ids=[img["id"]])
    await new_post(client, alice, media_ids=[other["id"]])
    paths = [urlsplit(img[k]).path for k in ("url", "thumb_url")]
    assert [(await client.get(path)).status_code for path in paths] == [200, 200]
    await client.post(f"/v1/posts/{p['id']}/report", json={"reason": "骗子"}, headers=reader.headers)
    [item] = (await client.get("/v1/moderation/queue", headers=mod.headers)).json()["items"]
    decide = f"/v1/moderation/items/{item['id']}/decision"
    r = await client.post(decide, json={"action": "remove", "reason": "诈骗"}, headers=mod.headers)
    assert r.status_code == 200, r.text
    for path in paths:
        got = await client.get(path)
        assert got.status_code == 404 and error_code(got) == "not_found"
    assert (await client.get(f"/v1/media/{other['id']}/original")).status_code == 200


async def test_a_muted_user_cannot_upload(client, users, rt):
    bob = await users.make("bob")
    mod = await users.make("mod", roles="moderator,user")
    r = await client.post(
        f"/v1/moderation/users/{bob.id}/mute", json={"hours": 1, "reason": "spam"}, headers=mod.headers
    )
    assert r.status_code == 200
    r = await upload(client, bob, jpeg_with_gps_and_orientation())
    assert r.status_code == 403 and error_code(r) == "forbidden"
    assert r.json()["error"]["details"]["reason"] == "muted"
    rt.clock.advance(3601)
    assert (await upload(client, bob, jpeg_with_gps_and_orientation())).status_code == 201
