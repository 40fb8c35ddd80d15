"""Print a rich table at any width without breaking what its first column names (case ids, kernel
names): the table as drawn when it fits the console with every word whole (free text may wrap
between words), else a stacked layout, one block per row: the
first cell alone on a line that is never wrapped (a terminal may fold it visually, but a log keeps
it whole, so a grep for a case id finds it), then "header: value" items wrapped between items.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

INDENT = "    "
SEPARATOR = " · "


def _text(console: Console, cell: RenderableType) -> Text:
    if isinstance(cell, Text):
        return cell
    if isinstance(cell, str):
        return console.render_str(cell)
    return Text(str(cell))


def _one_line(text: Text) -> Text:
    """A cell or header drawn on several lines in the table reads as one line here."""
    return Text(" ").join(line for line in text.split("\n") if line.plain.strip())


def fits(console: Console, table: Table) -> bool:
    """True when rich can draw `table` at the console's width without breaking any word: no id
    folded mid-id, no header shortened; long free text (a verdict, a note) may wrap between words.
    Uses rich's own column layout (a private method, so a rich without it gets the strict test:
    the whole table unwrapped)."""
    options = console.options.update_width(console.width)
    try:
        widths = table._calculate_column_widths(console, options)
        needs = [table._measure_column(console, options, column).minimum for column in table.columns]
    except AttributeError:
        return console.measure(table, options=console.options.update_width(100_000)).maximum <= console.width
    return all(width >= need for width, need in zip(widths, needs))


def _items(console: Console, headers: list[Text], row: list[RenderableType]) -> list[Text]:
    out = []
    for header, cell in zip(headers, row):
        value = _text(console, cell)
        if not value.plain.strip():
            continue
        item = _one_line(header)
        item.append(": ", style="dim")
        out.append(item.append_text(_one_line(value)))
    return out


def _pack(items: list[Text], width: int) -> list[Text]:
    """Lines of at most `width` cells, breaking only between items (an item longer than a line
    gets a line of its own)."""
    lines: list[Text] = []
    line = Text(INDENT)
    for item in items:
        if line.plain.strip() and line.cell_len + len(SEPARATOR) + item.cell_len > width:
            lines.append(line)
            line = Text(INDENT)
        if line.plain.strip():
            line.append(SEPARATOR, style="dim")
        line.append_text(item)
    if line.plain.strip():
        lines.append(line)
    return lines


def stacked(console: Console, table: Table) -> None:
    if table.title:
        console.print(_text(console, table.title), style="bold", soft_wrap=True)
    headers = [_text(console, c.header) for c in table.columns]
    columns = [list(c.cells) for c in table.columns]
    for row in zip(*columns):
        console.print(_one_line(_text(console, row[0])), soft_wrap=True)
        for line in _pack(_items(console, headers[1:], list(row[1:])), console.width):
            console.print(line, soft_wrap=True)
    if table.caption:
        console.print(_text(console, table.caption), style="dim")


def show(console: Console, table: Table) -> None:
    """`table` as drawn when it fits `console`'s width, else stacked."""
    if table.columns:
        table.columns[0].no_wrap = True  # rich narrows the widest wrappable column first: never the ids
    if fits(console, table):
        console.print(table)
    else:
        stacked(console, table)
