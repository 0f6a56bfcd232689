#!/usr/bin/env python3
"""Renders a tmux `capture-pane -e -p` dump (text with SGR colour sequences)
to a PNG, cell by cell, with Debian's python3-pil and DejaVu Sans Mono.

Usage: ansi2png.py CAPTURE.txt OUT.png [COLUMNS ROWS]
"""
import re
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
SIZE = 15
BG = (24, 26, 33)
FG = (208, 210, 214)
# The 16 ANSI colours (a muted palette that reads well on a dark background).
PALETTE = [
    (40, 42, 54), (230, 90, 90), (120, 200, 110), (225, 190, 90),
    (100, 150, 240), (200, 120, 220), (90, 200, 215), (208, 210, 214),
    (98, 100, 110), (255, 120, 120), (150, 230, 140), (250, 215, 120),
    (140, 180, 255), (230, 150, 245), (130, 225, 235), (250, 250, 250),
]


def xterm256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


class Attr:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.underline = self.reverse = False

    def copy(self):
        a = Attr()
        a.__dict__.update(self.__dict__)
        return a

    def apply(self, params):
        p = [int(x) if x else 0 for x in params.split(";")] if params else [0]
        i = 0
        while i < len(p):
            c = p[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = PALETTE[c - 30]
            elif c == 39:
                self.fg = None
            elif 40 <= c <= 47:
                self.bg = PALETTE[c - 40]
            elif c == 49:
                self.bg = None
            elif 90 <= c <= 97:
                self.fg = PALETTE[c - 90 + 8]
            elif 100 <= c <= 107:
                self.bg = PALETTE[c - 100 + 8]
            elif c in (38, 48) and i + 2 < len(p) and p[i + 1] == 5:
                col = xterm256(p[i + 2])
                if c == 38:
                    self.fg = col
                else:
                    self.bg = col
                i += 2
            elif c in (38, 48) and i + 4 < len(p) and p[i + 1] == 2:
                col = (p[i + 2], p[i + 3], p[i + 4])
                if c == 38:
                    self.fg = col
                else:
                    self.bg = col
                i += 4
            i += 1

    def colours(self):
        fg = self.fg or FG
        bg = self.bg or BG
        if self.reverse:
            fg, bg = (self.bg or BG), (self.fg or FG)
        if self.dim:
            fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
        return fg, bg


SGR = re.compile(r"\x1b\[([0-9;]*)m")


def parse(text, cols, rows):
    """Returns a grid of (char, Attr) cells."""
    grid = [[(" ", Attr()) for _ in range(cols)] for _ in range(rows)]
    attr = Attr()
    for y, line in enumerate(text.split("\n")[:rows]):
        x = 0
        pos = 0
        while pos < len(line) and x < cols:
            m = SGR.match(line, pos)
            if m:
                attr.apply(m.group(1))
                pos = m.end()
                continue
            ch = line[pos]
            pos += 1
            if ch == "\x1b" or ord(ch) < 32:
                continue
            grid[y][x] = (ch, attr.copy())
            wide = unicodedata.east_asian_width(ch) in ("W", "F")
            x += 2 if wide else 1
        # tmux ends lines without resetting: the rest of the row keeps the
        # background only when the line filled it, so blank cells stay plain.
    return grid


def draw_box_char(d, ch, x, y, cw, chh, fg):
    """Draws line-drawing characters as lines so that they join seamlessly."""
    mx, my = x + cw // 2, y + chh // 2
    right, bottom = x + cw, y + chh
    segs = {
        "│": [(mx, y, mx, bottom)],
        "─": [(x, my, right, my)],
        "┌": [(mx, my, right, my), (mx, my, mx, bottom)],
        "┐": [(x, my, mx, my), (mx, my, mx, bottom)],
        "└": [(mx, y, mx, my), (mx, my, right, my)],
        "┘": [(mx, y, mx, my), (x, my, mx, my)],
        "├": [(mx, y, mx, bottom), (mx, my, right, my)],
    }.get(ch)
    if not segs:
        return False
    for s in segs:
        d.line(s, fill=fg, width=1)
    return True


def render(text, out, cols, rows):
    font = ImageFont.truetype(FONT, SIZE)
    bold = ImageFont.truetype(FONT_BOLD, SIZE)
    cw = int(round(font.getlength("M")))
    asc, desc = font.getmetrics()
    chh = asc + desc + 1
    pad = 10
    img = Image.new("RGB", (cols * cw + 2 * pad, rows * chh + 2 * pad), BG)
    d = ImageDraw.Draw(img)
    grid = parse(text, cols, rows)
    for y, row in enumerate(grid):
        for x, (ch, a) in enumerate(row):
            fg, bg = a.colours()
            px, py = pad + x * cw, pad + y * chh
            if bg != BG:
                d.rectangle((px, py, px + cw - 1, py + chh - 1), fill=bg)
            if ch != " " and not draw_box_char(d, ch, px, py, cw, chh, fg):
                d.text((px, py), ch, font=bold if a.bold else font, fill=fg)
            if a.underline:
                d.line((px, py + chh - 2, px + cw - 1, py + chh - 2), fill=fg)
    img.save(out, optimize=True)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        text = f.read()
    cols = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    rows = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    render(text, sys.argv[2], cols, rows)


if __name__ == "__main__":
    main()
