"""Charts as inline SVG, drawn on the server: pure functions from numbers to SVG text.

Why server-side SVG: the pages load nothing from the internet and run no chart library;
an SVG is text in the HTML, scales on a tablet, prints, and passes a strict
Content-Security-Policy (presentation attributes only, no `style` attributes, no script).
Every chart carries a `<title>` and `<desc>` for screen readers; the pages put the same
figures in a table beside it.

Each bar is a `<rect class="bar">` with `data-value` (the number it stands for), so tests
can check that bars are proportional to their values. Labels are escaped here; callers
pass plain text. Formatting of numbers is the caller's (`value_text`), so amounts can be
shown as Danish kr. without this module knowing about money.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

Number = int | float
ValueText = Callable[[Number], str]

PALETTE = ("#1f5fa8", "#e08a00", "#2a9d8f", "#8e5ea2", "#c0392b", "#6b7280")
"""Colour-blind-friendly enough for two or three series; more repeat."""
TIER_COLOURS = ("#d9ead3", "#fff2cc", "#f4cccc")
INK = "#1f2933"
GRID = "#d5dbe1"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


class _DatedVisit(Protocol):
    @property
    def local_date(self) -> date: ...
    @property
    def administered(self) -> bool: ...


@dataclass(frozen=True)
class Bar:
    """One labelled value."""

    label: str
    value: Number


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category of a column chart."""

    name: str
    values: Sequence[Number]


def danish_number(value: Number) -> str:
    """ "1.500", "12,5": Danish grouping and decimal comma, without the process locale."""
    if isinstance(value, float) and not value.is_integer():
        whole, _, decimals = f"{abs(value):,.1f}".partition(".")
        text = f"{whole.replace(',', '.')},{decimals}"
    else:
        text = f"{abs(int(value)):,}".replace(",", ".")
    return f"-{text}" if value < 0 else text


def _id(kind: str, title: str) -> str:
    """A stable element id for the chart's title (two charts of one page differ by title)."""
    return f"{kind}-{hashlib.sha256(title.encode()).hexdigest()[:10]}"


def _num(value: float) -> str:
    """Coordinates with at most two decimals: short SVG text, no float noise."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(x: float, y: float, content: str, **attrs: str) -> str:
    extra = "".join(f" {name.replace('_', '-')}={quoteattr(v)}" for name, v in attrs.items())
    return f'<text x="{_num(x)}" y="{_num(y)}"{extra}>{escape(content)}</text>'


def _svg(kind: str, title: str, desc: str, width: float, height: float, body: list[str]) -> str:
    ident = _id(kind, title)
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" role="img" '
            f'viewBox="0 0 {_num(width)} {_num(height)}" '
            f'aria-labelledby="{ident}-t {ident}-d" font-family={quoteattr(FONT)} '
            f'font-size="13" fill="{INK}">',
            f'<title id="{ident}-t">{escape(title)}</title>',
            f'<desc id="{ident}-d">{escape(desc)}</desc>',
            *body,
            "</svg>",
        ]
    )


def nice_axis(value: Number, integers: bool = True) -> tuple[float, float]:
    """An axis for values up to `value`: (maximum, tick step), the step a 1, 2 or 5 × 10^k
    giving at most five intervals; for counts (`integers`) the step is at least 1."""
    if value <= 0:
        return 1.0, 1.0
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if integers:
        step = max(step, 1)
    return math.ceil(value / step) * step, step


def hbar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    value_text: ValueText = danish_number,
    width: int = 720,
    bar_height: int = 20,
    label_width: int = 170,
) -> str:
    """Horizontal bars, one per label, from a zero line; negative values (credits) go left.
    Bar length is proportional to |value| on one scale for all bars."""
    gap, top, value_room = 6, 8, 110
    area = width - label_width - value_room
    values = [b.value for b in bars]
    lo, hi = min([0, *values]), max([0, *values])
    span = (hi - lo) or 1
    zero = label_width + (0 - lo) / span * area
    height = top * 2 + max(len(bars), 1) * (bar_height + gap)
    body: list[str] = []
    for i, bar in enumerate(bars):
        y = top + i * (bar_height + gap)
        length = abs(bar.value) / span * area
        x = zero if bar.value >= 0 else zero - length
        mid = y + bar_height / 2 + 4
        body.append(_text(label_width - 8, mid, bar.label, text_anchor="end"))
        body.append(
            f'<rect class="bar" data-value="{bar.value}" x="{_num(x)}" y="{_num(y)}" '
            f'width="{_num(length)}" height="{bar_height}" '
            f'fill="{PALETTE[4] if bar.value < 0 else PALETTE[0]}"/>'
        )
        end = x + length + 6 if bar.value >= 0 else zero + 6
        body.append(_text(end, mid, value_text(bar.value)))
    body.append(
        f'<line x1="{_num(zero)}" y1="{top - 4}" x2="{_num(zero)}" y2="{height - top + 4}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    desc = "; ".join(f"{b.label}: {value_text(b.value)}" for b in bars) or "ingen data"
    return _svg("hbar", title, desc, width, height, body)


def column_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    value_text: ValueText = danish_number,
    width: int = 720,
    height: int = 280,
) -> str:
    """Vertical columns, grouped per category, one colour per series, with a legend when
    there is more than one series. Values are counts or averages: never negative."""
    if any(len(s.values) != len(categories) for s in series):
        raise ValueError("every series needs one value per category")
    values = [v for s in series for v in s.values]
    if any(v < 0 for v in values):
        raise ValueError("a column chart shows values of 0 or more")
    left, right, top, bottom = 56, 12, 12, 48
    legend = 22 if len(series) > 1 else 0
    plot_w, plot_h = width - left - right, height - top - bottom - legend
    axis_max, step = nice_axis(
        max(values, default=0), integers=all(float(v).is_integer() for v in values)
    )
    body: list[str] = []
    for tick in range(round(axis_max / step) + 1):
        value = tick * step
        y = top + plot_h - plot_h * value / axis_max
        body.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{width - right}" y2="{_num(y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y + 4, value_text(value), text_anchor="end"))
    group_w = plot_w / max(len(categories), 1)
    col_w = group_w * 0.8 / max(len(series), 1)
    for c, category in enumerate(categories):
        gx = left + c * group_w + group_w * 0.1
        for s, one in enumerate(series):
            value = one.values[c]
            h = value / axis_max * plot_h
            x, y = gx + s * col_w, top + plot_h - h
            body.append(
                f'<rect class="bar" data-value="{value}" data-series={quoteattr(one.name)} '
                f'x="{_num(x)}" y="{_num(y)}" width="{_num(col_w * 0.92)}" height="{_num(h)}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"/>'
            )
        body.append(
            _text(
                left + c * group_w + group_w / 2, top + plot_h + 18, category, text_anchor="middle"
            )
        )
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    if legend:
        x = float(left)
        for s, one in enumerate(series):
            ly = height - 14
            body.append(
                f'<rect x="{_num(x)}" y="{ly - 10}" width="12" height="12" '
                f'fill="{PALETTE[s % len(PALETTE)]}"/>'
            )
            body.append(_text(x + 17, ly, one.name))
            x += 30 + 8 * len(one.name)
    desc = "; ".join(
        f"{category}: " + ", ".join(f"{one.name} {value_text(one.values[c])}" for one in series)
        for c, category in enumerate(categories)
    )
    return _svg("columns", title, desc or "ingen data", width, height, body)


def share_bar(parts: Sequence[Bar], *, title: str, width: int = 720, bar_height: int = 28) -> str:
    """One bar split into the shares of its parts (e.g. home vs clinic), with percentages.
    Each segment's width is proportional to its part of the whole."""
    if any(p.value < 0 for p in parts):
        raise ValueError("shares are of values of 0 or more")
    total = sum(p.value for p in parts)
    left, top = 4, 4
    area = width - 2 * left
    height = top + bar_height + 40
    body: list[str] = []
    x = float(left)
    legend_x = float(left)
    for i, part in enumerate(parts):
        share = part.value / total if total else 0
        w = share * area
        colour = PALETTE[i % len(PALETTE)]
        body.append(
            f'<rect class="bar" data-value="{part.value}" x="{_num(x)}" y="{top}" '
            f'width="{_num(w)}" height="{bar_height}" fill="{colour}"/>'
        )
        x += w
        label = f"{part.label}: {danish_number(round(share * 100, 1))} %"
        ly = top + bar_height + 24
        body.append(
            f'<rect x="{_num(legend_x)}" y="{ly - 10}" width="12" height="12" fill="{colour}"/>'
        )
        body.append(_text(legend_x + 17, ly, label))
        legend_x += 40 + 8 * len(label)
    if not total:
        body.append(
            f'<rect x="{left}" y="{top}" width="{area}" height="{bar_height}" fill="none" '
            f'stroke="{GRID}"/>'
        )
    desc = ", ".join(f"{p.label} {danish_number(p.value)}" for p in parts) or "ingen data"
    return _svg("share", title, desc, width, height, body)


def staircase_chart(counted: int, thresholds: Sequence[int], *, year: int, width: int = 720) -> str:
    """The staircase (trappemodel) of a year: the tier bands 1..n+1 along the count of
    courses, the thresholds marked, and a bar for the courses counted so far. One scale:
    the bar's length is proportional to `counted`."""
    if counted < 0 or list(thresholds) != sorted(thresholds) or not thresholds:
        raise ValueError("a count of 0 or more and rising thresholds are needed")
    left, right, top = 12, 12, 30
    band_h, bar_h = 56, 22
    area = width - left - right
    scale_max = max(thresholds[-1] * 1.25, counted * 1.05, 1)

    def x(position: float) -> float:
        return left + min(position, scale_max) / scale_max * area

    height = top + band_h + 46
    body: list[str] = []
    edges = [0, *thresholds, scale_max]
    for tier, (start, end) in enumerate(itertools.pairwise(edges), start=1):
        colour = TIER_COLOURS[(tier - 1) % len(TIER_COLOURS)]
        body.append(
            f'<rect class="tier" data-tier="{tier}" x="{_num(x(start))}" y="{top}" '
            f'width="{_num(x(end) - x(start))}" height="{band_h}" fill="{colour}"/>'
        )
        body.append(
            _text((x(start) + x(end)) / 2, top - 10, f"Trin {tier}", text_anchor="middle",
                  font_weight="600")
        )  # fmt: skip
    for limit in thresholds:
        body.append(
            f'<line x1="{_num(x(limit))}" y1="{top - 4}" x2="{_num(x(limit))}" '
            f'y2="{top + band_h + 6}" stroke="{INK}" stroke-dasharray="4 3"/>'
        )
        body.append(_text(x(limit), top + band_h + 22, danish_number(limit), text_anchor="middle"))
    bar_y = top + (band_h - bar_h) / 2
    body.append(
        f'<rect class="bar" data-value="{counted}" x="{left}" y="{_num(bar_y)}" '
        f'width="{_num(x(counted) - left)}" height="{bar_h}" fill="{PALETTE[0]}"/>'
    )
    label = f"{danish_number(counted)} forløb talt i {year}"
    label_x = x(counted) + 6
    anchor = "start"
    if label_x > width - 200:
        label_x, anchor = x(counted) - 6, "end"
    body.append(
        _text(label_x, bar_y + bar_h / 2 + 5, label, text_anchor=anchor, font_weight="600",
              fill=INK if anchor == "start" else "#ffffff")
    )  # fmt: skip
    body.append(_text(left, top + band_h + 22, "0"))
    limits = ", ".join(danish_number(t) for t in thresholds)
    desc = f"{label}; nye trin begynder efter {limits} forløb"
    return _svg("staircase", f"Trappemodellen {year}", desc, width, height, body)


def visit_days(
    first: date, last: date, visits: Sequence[_DatedVisit], label_every: int = 7
) -> list[tuple[str, int, int]]:
    """A course's days from `first` to `last` (and any visit outside them) as (label,
    visits with the dose given, visits without): the categories of its column chart.
    Every `label_every`-th day is labelled ("03.03"), so a long course stays legible."""
    given: dict[date, int] = defaultdict(int)
    other: dict[date, int] = defaultdict(int)
    for visit in visits:
        (given if visit.administered else other)[visit.local_date] += 1
    dated = [*given, *other]
    start, end = min([first, *dated]), max([last, *dated])
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [
        (day.strftime("%d.%m") if n % label_every == 0 else "", given[day], other[day])
        for n, day in enumerate(days)
    ]
