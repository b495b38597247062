"""Every kind of awkward upload the Photo tab can get: each becomes a usable RGB photo or a
clear ImageInputError that says what to do. The files are made here, in tmp_path."""
from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnlab.core import imageio
from cnnlab.core.imageio import ImageInputError, load_photo


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bomb_png(path, width: int, height: int) -> None:
    """A genuine decompression bomb: a few hundred KB of PNG that would decode to width*height
    bytes of grey (written row by row, so making it never needs that memory)."""
    comp, parts = zlib.compressobj(9), []
    row = bytes(width + 1)                       # filter byte + one row of black pixels
    for _ in range(height):
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)    # 8-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))


def _photo(w=120, h=90) -> Image.Image:
    """A small test photo: a red square on the left half of a white picture."""
    a = np.full((h, w, 3), 255, np.uint8)
    a[h // 4:3 * h // 4, w // 8:w // 8 + h // 2] = (220, 20, 20)
    return Image.fromarray(a)


def _error(source) -> str:
    with pytest.raises(ImageInputError) as info:
        load_photo(source)
    return str(info.value)


def test_good_jpeg_comes_back_as_rgb(tmp_path):
    p = tmp_path / "ok.jpg"
    _photo().save(p, quality=92)
    photo = load_photo(p)
    assert photo.image.mode == "RGB" and photo.image.size == (120, 90)
    assert photo.format == "JPEG" and photo.notes == []


def test_non_image_file_is_refused_clearly(tmp_path):
    p = tmp_path / "notes.jpg"                  # the name lies: it is text
    p.write_text("this is my homework, not a photo\n" * 20)
    assert "not a picture" in _error(p)


def test_empty_file_is_refused_clearly(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    assert "empty" in _error(p)


def test_formats_outside_the_photo_list_are_refused(tmp_path):
    p = tmp_path / "old.ppm"                    # Pillow could read it; we only open photo formats
    _photo().save(p)
    assert "not a picture" in _error(p)


def test_heic_gets_a_specific_hint(tmp_path):
    p = tmp_path / "IMG_0001.HEIC"
    p.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    assert "HEIC" in _error(p)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_is_called_damaged(tmp_path, fmt):
    p = tmp_path / f"cut.{fmt.lower()}"
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    noisy.save(p, fmt)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])       # the upload stopped half way
    assert "damaged or incomplete" in _error(p)


def test_corrupt_png_checksum_is_called_damaged(tmp_path):
    p = tmp_path / "bad.png"
    _photo().save(p)
    data = bytearray(p.read_bytes())
    data[60:80] = bytes(20)                     # scribble over the compressed pixels
    p.write_bytes(bytes(data))
    assert "damaged or incomplete" in _error(p)


def test_decompression_bomb_20000x20000_is_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    _bomb_png(p, 20000, 20000)                  # 400 megapixels
    assert p.stat().st_size < 1_000_000         # ... in well under a megabyte
    message = _error(p)
    assert "too large" in message and "400 megapixels" in message and "limit is 50" in message


def test_image_just_over_our_pixel_limit_names_its_size(tmp_path):
    p = tmp_path / "huge.png"
    _bomb_png(p, 8000, 7000)                    # 56 MP: below Pillow's own guard, above ours
    message = _error(p)
    assert "8000 x 7000 pixels" in message and "limit is 50 megapixels" in message


def test_file_over_the_byte_limit_is_refused_before_reading(tmp_path):
    p = tmp_path / "big.jpg"
    p.write_bytes(bytes(imageio.MAX_BYTES + 1))
    assert "the limit is 10.0 MB" in _error(p)


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour(tmp_path):
    p = tmp_path / "print.jpg"
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(p, quality=95)    # pure red in ink terms
    photo = load_photo(p)
    r, g, b = np.asarray(photo.image).reshape(-1, 3).mean(0)
    assert photo.image.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_16_bit_png_keeps_its_brightness(tmp_path):
    p = tmp_path / "scan16.png"
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    Image.fromarray(ramp).save(p)
    assert Image.open(p).mode.startswith("I")   # really a 16-bit file
    grey = np.asarray(load_photo(p).image)[..., 0].astype(int)
    assert grey[:, 0].max() <= 2 and grey[:, -1].min() >= 253      # black ... white
    assert 110 <= grey[:, 32].mean() <= 145                          # mid-grey stays mid-grey


def test_palette_png_keeps_its_colours(tmp_path):
    p = tmp_path / "palette.png"
    _photo().convert("P", palette=Image.ADAPTIVE, colors=4).save(p)
    assert Image.open(p).mode == "P"
    a = np.asarray(load_photo(p).image)
    assert tuple(a[45, 30]) == pytest.approx((220, 20, 20), abs=12) and tuple(a[5, 5]) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_png_is_flattened_on_white(tmp_path, mode):
    p = tmp_path / f"cutout-{mode}.png"
    a = np.zeros((60, 80, 4), np.uint8)          # fully transparent black ...
    a[20:40, 30:50] = (0, 0, 0, 255)             # ... around an opaque black square
    im = Image.fromarray(a, "RGBA")
    if mode == "LA":
        im = im.convert("LA")
    elif mode == "P":
        im = im.convert("P")                     # palette with a transparent entry
        im.info["transparency"] = im.getpixel((0, 0))
    im.save(p, transparency=im.info.get("transparency")) if mode == "P" else im.save(p)
    photo = load_photo(p)
    rgb = np.asarray(photo.image)
    assert photo.image.mode == "RGB"
    assert rgb[0, 0].tolist() == [255, 255, 255] and rgb[30, 40].tolist() == [0, 0, 0]
    assert any("transparent" in str(n) for n in photo.notes)


def test_animated_gif_uses_the_first_frame(tmp_path):
    p = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (40, 40), c) for c in ((200, 0, 0), (0, 0, 200), (0, 200, 0))]
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    photo = load_photo(p)
    r, g, b = np.asarray(photo.image)[20, 20]
    assert r > 150 and g < 50 and b < 50
    assert any("first" in str(n) for n in photo.notes)


def test_exif_rotated_jpeg_comes_out_upright(tmp_path):
    """A phone held upright stores the picture sideways plus orientation tag 6."""
    p = tmp_path / "phone.jpg"
    stored = np.full((60, 100, 3), 255, np.uint8)
    stored[:, :25] = (0, 0, 0)                   # stored left edge = the top of the real scene
    exif = Image.Exif()
    exif[0x0112] = 6                             # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(p, exif=exif, quality=95)
    photo = load_photo(p)
    a = np.asarray(photo.image.convert("L"))
    assert photo.image.size == (60, 100)         # portrait, as the student saw it
    assert a[:20].mean() < 40 and a[-50:].mean() > 215      # dark band at the top


def test_one_pixel_image_is_too_small(tmp_path):
    p = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (10, 10, 10)).save(p)
    assert "too small" in _error(p) and "1 x 1" in _error(p)


def test_long_thin_strip_is_refused(tmp_path):
    """10000x9 passes the size checks but would blow up to 112000x224 for the flower model."""
    p = tmp_path / "strip.png"
    Image.new("RGB", (10000, 9), "white").save(p)
    assert "long and thin" in _error(p)


def test_phone_size_jpeg_is_shrunk_for_the_model(tmp_path):
    p = tmp_path / "phone.jpg"
    _photo(4000, 3000).save(p, quality=85)
    photo = load_photo(p)
    assert photo.original_size == (4000, 3000) and photo.image.size == (imageio.WORK_SIDE, 375)
    a = np.asarray(photo.image)
    assert tuple(a[1500 * 375 // 3000, 700 * 500 // 4000]) == pytest.approx((220, 20, 20), abs=25)


def test_bytes_and_data_urls_are_read_too(tmp_path):
    p = tmp_path / "ok.png"
    _photo().save(p)
    raw = p.read_bytes()
    assert load_photo(raw).image.size == (120, 90)
    url = "data:image/png;base64," + base64.b64encode(raw).decode()
    assert imageio.decode_data_url(url) == raw
    with pytest.raises(ImageInputError, match="damaged"):
        imageio.decode_data_url("data:image/png;base64,@@not base64@@")


def test_every_refusal_is_a_sentence_in_each_language(tmp_path):
    """The error carries a Text: English for logs (str), Chinese for a Chinese reader."""
    p = tmp_path / "huge.png"
    _bomb_png(p, 9000, 9000)
    with pytest.raises(ImageInputError) as info:
        load_photo(p)
    message = info.value.args[0]
    assert str(info.value) == str(message) and "81 megapixels" in str(message)
    assert message.in_("zh") == ("这张图片太大，无法安全打开：9000 x 9000 像素（81 百万像素）；上限是 50 百万像素。"
                                 "请换一张小一些的照片。")
    tiny = tmp_path / "tiny.png"
    _photo(1, 1).save(tiny)
    with pytest.raises(ImageInputError) as info:
        load_photo(tiny)
    assert info.value.args[0].in_("zh").startswith("这张图片只有 1 x 1 像素")
    gif = tmp_path / "moving.gif"
    _photo().save(gif, save_all=True, append_images=[_photo().transpose(Image.FLIP_LEFT_RIGHT)])
    assert [n.in_("zh") for n in load_photo(gif).notes] == ["它有好几帧（是动画）；我只看了第一帧。"]
