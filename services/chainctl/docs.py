"""The README's and the partner guide's generated tables, from topics.toml and the reason codes.

Each table sits in its Markdown file between `<!-- generated: NAME -->` and
`<!-- end generated: NAME -->`; `migratieketen docs --write` rewrites them there,
`migratieketen docs` prints them, and a contract test fails when a file has drifted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chainkit.catalogue import Topic, partners, topics
from chainkit.reasons import REASON_CODES

README = Path("README.md")
GUIDE = Path("contracts/README.md")


def _proto_file(topic: Topic) -> str:
    return str(topic.message.DESCRIPTOR.file.name).rsplit("/", 1)[-1]


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names) or "(none)"


def readme_topics() -> str:
    rows = [
        "| topic | key | message | producers → readers |",
        "|---|---|---|---|",
        *(
            f"| `{t.name}` | {t.key} | `{t.message.__name__}` | "
            f"{_names(t.producers)} → {_names((*t.consumers, *t.readers))} |"
            for t in topics().values()
        ),
    ]
    return "\n".join(rows)


def guide_topics() -> str:
    rows = [
        "| topic | key | message | producers | consumers | partners reading | retention |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| `{t.name}` | {t.key} | `{t.message.__name__}` ({_proto_file(t)}) | "
            f"{_names(t.producers)} | {_names(t.consumers)} | {_names(t.readers)} | "
            f"{t.retention_days} days |"
            for t in topics().values()
        ),
    ]
    return "\n".join(rows)


def guide_partners() -> str:
    rows = [
        "| partner | writes | reads |",
        "| --- | --- | --- |",
        *(
            f"| {name} | "
            f"{_names(tuple(f'`{t.name}`' for t in topics().values() if name in t.producers))}"
            f" | {_names(tuple(f'`{t.name}`' for t in topics().values() if name in t.readers))}"
            " |"
            for name in partners()
        ),
    ]
    return "\n".join(rows)


def reason_codes() -> str:
    rows = [
        "| reason code | meaning |",
        "| --- | --- |",
        *(f"| `{code}` | {meaning} |" for code, meaning in REASON_CODES.items()),
    ]
    return "\n".join(rows)


# Which file carries which generated table.
TABLES: dict[Path, dict[str, Callable[[], str]]] = {
    README: {"topics": readme_topics, "reason-codes": reason_codes},
    GUIDE: {"topics": guide_topics, "partners": guide_partners, "reason-codes": reason_codes},
}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"


def render(text: str, tables: dict[str, Callable[[], str]]) -> str:
    """`text` with each generated table replaced by its current version."""
    for name, table in tables.items():
        begin, end = _markers(name)
        if text.count(begin) != 1 or text.count(end) != 1:
            raise ValueError(f"expected one '{begin}' ... '{end}' block")
        head, rest = text.split(begin)
        _, tail = rest.split(end)
        text = f"{head}{begin}\n{table()}\n{end}{tail}"
    return text


def write(root: Path) -> list[Path]:
    """Rewrite the generated tables under `root`; the files that changed."""
    changed = []
    for relative, tables in TABLES.items():
        path = root / relative
        before = path.read_text("utf-8")
        after = render(before, tables)
        if after != before:
            path.write_text(after, "utf-8")
            changed.append(path)
    return changed


def print_all() -> str:
    return "\n\n".join(
        f"{relative} ({name}):\n\n{table()}"
        for relative, tables in TABLES.items()
        for name, table in tables.items()
    )
