from __future__ import annotations

import io
import resource
import struct
import zlib
from urllib.parse import urlsplit

import pytest
from PIL import Image

from content.config import ContentSettings
from tests.content.helpers import new_post
from tests.support.people import error_code

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


def png_header(width: int, height: int) -> bytes:
    """A PNG claiming huge dimensions, with a tiny (truncated) image stream."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))


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
    assert "immutable" in got.headers["cache-control"]
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


@pytest.mark.parametrize(
    "data",
    [
        png_header(6000, 5000),  # 30 MP: over our 25 MP cap, under Pillow's own warning
        png_header(100_000, 100_000),  # 10 GP
        jpeg_claiming(60_000, 60_000),  # 3.6 GP in a few hundred bytes
    ],
)
async def test_decompression_bombs_are_refused_before_decoding(client, users, data):
    alice = await users.make("alice")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = await upload(client, alice, data, "bomb.png", "image/png")
    assert r.status_code == 413, r.text
    assert error_code(r) == "payload_too_large"
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50 * 1024  # decoding even the smallest would take ≥ 90 MB


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
