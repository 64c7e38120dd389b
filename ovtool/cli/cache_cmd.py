"""`ovtool cache ls|du|prune|clear`: look at and trim the stage cache ($OVTOOL_CACHE, ~/.cache/ovtool).

Results go to stdout (one entry or one key per line, or JSON with --json); counts and what was
freed go to stderr. An entry that a running ovtool holds (its lock) is never removed.
"""

from __future__ import annotations

from typing import Any

from ovtool.cli.build import Call, command, examples
from ovtool.cli.flags import COMMON, OUTPUT, Flag
from ovtool.cli.index import group

app = group("cache")

JSON = Flag("--json", type=bool, default=False, panel=OUTPUT, param="json_out", help="Print JSON to stdout.")
DRY_RUN = Flag("--dry-run", type=bool, default=False, panel=COMMON, help="List what would be removed; remove nothing.")


def _cache() -> Any:
    from ovtool.cache.store import StageCache

    return StageCache()


def _record(entry: Any) -> dict[str, Any]:
    from ovtool.cache.units import format_time

    return {
        "key": entry.key, "stage": entry.stage, "size_bytes": entry.size_bytes,
        "created": format_time(entry.created_at), "last_used": format_time(entry.last_used),
        "created_at": entry.created_at, "last_used_at": entry.last_used, "path": str(entry.path), "meta": entry.meta,
    }  # fmt: skip


def _ls(call: Call) -> None:
    from ovtool import console
    from ovtool.cache.units import format_size

    cache = _cache()
    records = [_record(e) for e in cache.entries()]
    if call["json_out"]:
        console.result_json(records)
        return
    for r in records:
        size = format_size(r["size_bytes"])
        console.result(f"{r['key']}  {r['stage']:<10} {size:>7}  {r['created']}  {r['last_used']}")
    console.info(f"{_entries(len(records))} in {cache.root}" if records else f"the cache is empty ({cache.root})")


def _du(call: Call) -> None:
    from ovtool import console
    from ovtool.cache import files
    from ovtool.cache.hash_index import HashIndex
    from ovtool.cache.units import format_size

    cache = _cache()
    entries = cache.entries()
    by_stage: dict[str, int] = {}
    for entry in entries:
        by_stage[entry.stage] = by_stage.get(entry.stage, 0) + 1
    total = cache.size_bytes()
    index = HashIndex(cache.root).size_bytes()
    shared = files.shared_bytes(cache.root / "entries") if entries else 0
    if call["json_out"]:
        console.result_json({"root": str(cache.root), "entries": len(entries), "bytes": total, "index_bytes": index,
                             "shared_bytes": shared, "by_stage": by_stage})  # fmt: skip
        return
    console.result(f"{format_size(total + index)}\t{cache.root}")  # like `du -sh`
    stages = ", ".join(f"{name} {count}" for name, count in sorted(by_stage.items()))
    console.info(f"{_entries(len(entries))}{f' ({stages})' if stages else ''}, hash index {format_size(index)}")
    if shared:
        console.info(f"{format_size(shared)} of it is hard-linked into run folders too (not freed by removing)")


def _parsed(option: str, text: str | None, parse: Any) -> Any:
    from ovtool.errors import UserError

    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise UserError(f"{option} {exc}") from exc


def _removed(call: Call, removed: list[Any], before: int) -> None:
    from ovtool import console
    from ovtool.cache.units import format_size

    for entry in removed:
        console.result(entry.key)
    freed = sum(e.size_bytes for e in removed) if call["dry_run"] else before - _cache().size_bytes()
    verb = "would remove" if call["dry_run"] else "removed"
    if not removed:
        console.info("nothing to remove")
        return
    console.info(f"{verb} {_entries(len(removed))} ({format_size(max(freed, 0))})")


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _prune(call: Call) -> None:
    from ovtool.cache.hash_index import HashIndex
    from ovtool.cache.units import parse_duration, parse_size
    from ovtool.errors import UserError

    older = _parsed("--older-than", call["older_than"], parse_duration)
    max_bytes = _parsed("--max-size", call["max_size"], parse_size)
    if older is None and max_bytes is None:
        raise UserError("cache prune: give --older-than and/or --max-size (e.g. --older-than 7d --max-size 20G)")
    cache = _cache()
    before = cache.size_bytes()
    removed = cache.prune(older, max_bytes, dry_run=call["dry_run"])
    if not call["dry_run"]:
        HashIndex(cache.root).forget_missing()
    _removed(call, removed, before)


def _clear(call: Call) -> None:
    from ovtool import console
    from ovtool.cache.hash_index import HashIndex

    cache = _cache()
    before, entries = cache.size_bytes(), cache.entries()
    count = cache.clear(dry_run=call["dry_run"])
    if not call["dry_run"]:
        HashIndex(cache.root).clear()
    left = {e.key for e in cache.entries()} if not call["dry_run"] else set()
    _removed(call, [e for e in entries if e.key not in left], before)
    if count < len(entries):
        console.info(f"kept {_entries(len(entries) - count)} in use by a running ovtool")


app.command("ls")(command("ls", (JSON,),
    "List the cached stage outputs: key, stage, size, created, last used (one per line, oldest use first).",
    examples=examples("""
    # every entry, least recently used first
    cache ls
    # as JSON, for scripts
    cache ls --json
"""), body=_ls))  # fmt: skip
app.command("du")(command("du", (JSON,), "How much disk the cache takes (entries and the hash index).",
    examples=examples("""
    # the total, like du -sh
    cache du
    # by stage, as JSON
    cache du --json
"""), body=_du))  # fmt: skip
app.command("prune")(command("prune", (
    Flag("--older-than", panel=COMMON, metavar="AGE", help="Remove entries not used for AGE: 90m, 12h, 7d, 2w."),
    Flag("--max-size", panel=COMMON, metavar="SIZE",
         help="Then remove the least recently used until the cache fits in SIZE: 500M, 20G."),
    DRY_RUN,
), "Remove entries unused for a while and/or the least recently used beyond a size.", examples=examples("""
    # what a weekly cleanup would remove
    cache prune --older-than 7d --dry-run
    # unused for 30 days, then keep at most 20 GB
    cache prune --older-than 30d --max-size 20G
"""), body=_prune))  # fmt: skip
app.command("clear")(command("clear", (DRY_RUN,), "Remove every cache entry and the hash index.",
    examples=examples("""
    # what would go
    cache clear --dry-run
    # everything (entries in use by a running ovtool are kept)
    cache clear
"""), body=_clear))  # fmt: skip
