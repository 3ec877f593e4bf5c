"""Charts drawn on the server as inline SVG: no script, no CDN, readable without CSS.

Each chart is an `<svg role="img">` with a title and a description a screen reader
announces; the pages put the same figures in a table next to it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 600
HEIGHT = 160
AXIS = 18  # room under the bars for the first and last label


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    title: str


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(bars: Sequence[Bar], *, chart_id: str, title: str, description: str) -> SafeString:
    """Vertical bars from a zero line; negative values hang below it."""
    top = max([b.value for b in bars if b.value > 0], default=0)
    bottom = min([b.value for b in bars if b.value < 0], default=0)
    span = (top - bottom) or 1
    plot = HEIGHT - AXIS
    zero = plot * top / span if top or bottom else plot
    step = WIDTH / max(len(bars), 1)
    gap = min(2, step / 4)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        'preserveAspectRatio="none">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(description)}</desc>',
        f'<line x1="0" y1="{_number(zero)}" x2="{WIDTH}" y2="{_number(zero)}" class="axis"/>',
    ]
    for index, bar in enumerate(bars):
        height = abs(bar.value) * plot / span
        y = zero - height if bar.value >= 0 else zero
        css = "bar" if bar.value >= 0 else "bar negative"
        parts.append(
            f'<rect class="{css}" x="{_number(index * step + gap / 2)}" y="{_number(y)}" '
            f'width="{_number(max(step - gap, 1))}" height="{_number(height)}">'
            f"<title>{escape(bar.title)}</title></rect>"
        )
    if bars:
        parts.append(
            f'<text x="0" y="{HEIGHT - 4}" class="tick">{escape(bars[0].label)}</text>'
            f'<text x="{WIDTH}" y="{HEIGHT - 4}" class="tick end">{escape(bars[-1].label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


@dataclass(frozen=True)
class Segment:
    css: str
    value: int
    label: str


def stacked_bar(segments: Sequence[Segment], *, chart_id: str, title: str) -> SafeString:
    """One horizontal bar split into parts (delivered, waiting, failed)."""
    total = sum(s.value for s in segments) or 1
    description = ", ".join(f"{s.label}: {s.value}" for s in segments)
    parts = [
        f'<svg class="meter" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} 20" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        'preserveAspectRatio="none">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(description)}</desc>',
        f'<rect class="track" x="0" y="0" width="{WIDTH}" height="20"/>',
    ]
    x = 0.0
    for segment in segments:
        width = WIDTH * segment.value / total
        if width:
            parts.append(
                f'<rect class="{escape(segment.css)}" x="{_number(x)}" y="0" '
                f'width="{_number(width)}" height="20">'
                f"<title>{escape(segment.label)}: {segment.value}</title></rect>"
            )
        x += width
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def decimal_value(value: Decimal) -> float:
    return float(value)
