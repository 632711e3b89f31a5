"""Every committed notebook (tutorials/*.ipynb, notebooks/*.ipynb) says only what its outputs show.

Reads the notebooks as committed (it executes nothing) and checks two things:

- each number quoted in a results paragraph appears in an output of the same notebook. Results paragraphs are the
  markdown cells after the first code cell (the introduction before it describes the setting and cites papers). A number
  counts as quoted when it has a decimal point, a thousands separator, a percent sign or an exponent, or is an integer of
  two digits or more; inline code, links and the citations "(2023)" / "et al. 2024" are left out. It appears when an
  output (text/plain, text/markdown, a stream) holds a number that rounds to it at its precision ("0.95" matches
  "0.9456", "5,700" matches "5700"; signs are ignored, so "−0.17" matches "-0.167"), or when a code cell sets it (a
  parameter such as "EPOCHS = 2500"). A paragraph that quotes a paper's numbers beside the run's marks them
  <!-- quoted: 0.86 1.4 --> (an HTML comment, invisible when rendered); only numbers so marked are exempt.
- no PNG in an output is blank: one colour, nothing drawn.

Run alone (python3 kernel/src/test/python/test_notebooks.py [NB.ipynb...]) it lists the failures per notebook.
"""
import base64
import glob
import io
import json
import os
import re
import struct
import sys
import unittest
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))

NUMBER = re.compile(r"(?<![\w.\-^/])(\d[\d,]*(?:\.\d+)?(?:[eE][-+−]?\d+)?)(%?)(?![\w.]*\d)(?![A-Za-z_(])")
OUTPUT_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+")
CODE_SPAN = re.compile(r"`[^`]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)")
CITATION = re.compile(r"\((?:[^()]*\D)?(?:19|20)\d\d\)|et al\.,?\s*(?:\*[^*]*\*,?\s*)?(?:19|20)\d\d|\b(?:19|20)\d\d\b(?=\))")
EXEMPT = re.compile(r"<!--\s*quoted:([^>]*)-->")
HEADING = re.compile(r"^#+ .*$", re.M)


def notebooks():
    return sorted(glob.glob(os.path.join(ROOT, "tutorials", "*.ipynb")) + glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


def text(value):
    return "".join(value) if isinstance(value, list) else (value or "")


def output_texts(nb):
    """The text of every output (text/plain, text/markdown, streams, errors) and the source of every code cell."""
    outputs, code = [], []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        code.append(text(cell["source"]))
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                outputs.append(text(out["text"]))
            data = out.get("data", {})
            for mime in ("text/plain", "text/markdown"):
                if mime in data:
                    outputs.append(text(data[mime]))
    return outputs, code


def numbers_in(strings):
    found = set()
    for s in strings:
        for m in OUTPUT_NUMBER.finditer(s.replace("\u2212", "-")):
            try:
                found.add(float(m.group(0).replace(",", "")))
            except ValueError:
                pass
    return found


def decimals(quoted):
    mantissa = re.split(r"[eE]", quoted)[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def matches(quoted, values):
    """Whether some value, rounded to the quoted number's precision, is the quoted number."""
    q = float(quoted.replace(",", "").replace("\u2212", "-"))
    if re.search(r"[eE]", quoted):
        return any(v != 0 and abs(v - q) <= abs(q) * 0.5 * 10 ** -decimals(quoted) for v in values)
    d = decimals(quoted)
    target = f"{abs(q):.{d}f}"
    return any(f"{abs(v):.{d}f}" == target for v in values)


def quoted_numbers(markdown):
    """The numbers a results paragraph quotes, as written, without inline code, links, headings and citations."""
    exempt = set()
    for m in EXEMPT.finditer(markdown):
        exempt.update(m.group(1).split())
    body = EXEMPT.sub(" ", markdown)
    for pattern in (CODE_SPAN, LINK_TARGET, HEADING, CITATION):
        body = pattern.sub(" ", body)
    body = re.sub(r"<!--.*?-->", " ", body, flags=re.S)
    quoted = []
    for m in NUMBER.finditer(body):
        number, percent = m.group(1).rstrip(","), m.group(2)
        if not number or number in exempt or number + percent in exempt:
            continue
        if "." in number or "," in number or percent or re.search(r"[eE]", number) or len(number) >= 2:
            quoted.append(number)
    return quoted


def unsupported_numbers(nb):
    """(cell index, number) for each quoted number no output shows."""
    outputs, code = output_texts(nb)
    values = numbers_in(outputs) | numbers_in(code)
    problems = []
    seen_code = False
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            seen_code = True
            continue
        if cell["cell_type"] != "markdown" or not seen_code:
            continue
        for number in quoted_numbers(text(cell["source"])):
            if not matches(number, values):
                problems.append((i, number))
    return problems


def png_colours(data):
    """The number of distinct colours in a PNG (at most 2: all this needs), with Pillow if present, else a small decoder."""
    try:
        from PIL import Image
        colours = Image.open(io.BytesIO(data)).convert("RGBA").getcolors(2)
        return 2 if colours is None else len(colours)
    except ImportError:
        return decoded_colours(data)


def decoded_colours(data):
    """A plain-Python PNG decoder for 8-bit, non-interlaced images: enough for the PNGs Loupe writes."""
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour_type = header[:4]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    bpp = max(1, channels * depth // 8)
    stride = (width * channels * depth + 7) // 8
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    colours = set()
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = row[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                row[x] = (row[x] + a) & 255
            elif kind == 2:
                row[x] = (row[x] + b) & 255
            elif kind == 3:
                row[x] = (row[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[x] = (row[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(bytes(row[i:i + bpp]) for i in range(0, stride, bpp))
        if len(colours) > 1:
            return 2
        previous = row
    return len(colours)


def blank_pngs(nb):
    """(cell index, the output's text) for each PNG of one colour."""
    blank = []
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png and png_colours(base64.b64decode(text(png))) < 2:
                blank.append((i, text(out["data"].get("text/plain", "")).splitlines()[0][:100]))
    return blank


def failures(path):
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    lines = [f"cell {i}: the number {n} is quoted but no output of the notebook shows it" for i, n in unsupported_numbers(nb)]
    lines += [f"cell {i}: blank PNG (one colour): {t}" for i, t in blank_pngs(nb)]
    return lines


class NotebookClaimsTest(unittest.TestCase):

    def test_quoted_numbers_appear_in_outputs_and_no_png_is_blank(self):
        report = {}
        for path in notebooks():
            found = failures(path)
            if found:
                report[os.path.relpath(path, ROOT)] = found
        if report:
            self.fail("claims without outputs, or blank figures, per notebook:\n" + "\n".join(
                f"{nb}:\n  " + "\n  ".join(lines) for nb, lines in report.items()))

    def test_the_checks_catch_what_they_should(self):
        self.assertEqual(quoted_numbers("loss 1.42 at step 5,700 (Olsson et al. 2022), `x = 3.5`, 12% and head 0.2"),
                         ["1.42", "5,700", "12", "0.2"])
        self.assertTrue(matches("0.95", {0.9456}))
        self.assertFalse(matches("0.95", {0.9446}))
        self.assertTrue(matches("5,700", {5700.0}))
        self.assertTrue(matches("3.08e-07", {3.08e-07}))
        self.assertEqual(quoted_numbers("<!-- quoted: 3.5519 --> GPT-2's 3.5519 against 2.1"), ["2.1"])
        white = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)) \
            + chunk(b"IDAT", zlib.compress(b"\x00" + b"\xff" * 6 + b"\x02" + b"\x00" * 6)) + chunk(b"IEND", b"")
        self.assertEqual(decoded_colours(white), 1)
        self.assertEqual(png_colours(white), 1)
        two = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)) \
            + chunk(b"IDAT", zlib.compress(b"\x01" + b"\xff" * 3 + b"\x01\x00\x00")) + chunk(b"IEND", b"")
        self.assertEqual(decoded_colours(two), 2)


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


if __name__ == "__main__":
    paths = [os.path.abspath(p) for p in sys.argv[1:]] or notebooks()
    bad = 0
    for path in paths:
        found = failures(path)
        bad += bool(found)
        print(f"{os.path.relpath(path, ROOT)}: " + ("ok" if not found else f"{len(found)} failures"))
        for line in found:
            print("  " + line)
    sys.exit(1 if bad else 0)
