"""Long documents (plays, books, .txt/.md files) → paragraph chunks, for LLM calibration and perplexity."""

from __future__ import annotations

import glob
import random
import re
from collections.abc import Iterable
from pathlib import Path

from ovtool.data.text import CORPUS_SUFFIXES, TextDataError, is_glob, read_text_file

__all__ = ["chunk_texts", "load_text_corpus"]

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])|(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)")


def _strip_markdown(text: str) -> str:
    """Plain prose from light Markdown (headings, bold, italics, hard breaks): the LLM should see text."""
    lines = []
    for line in text.splitlines():
        line = _HEADING.sub("", line.rstrip())
        line = _EMPHASIS.sub(lambda m: next(g for g in m.groups()[1:] if g is not None), line)
        lines.append(line)
    return "\n".join(lines)


def _pack(pieces: Iterable[str], max_chars: int) -> list[str]:
    """Concatenate consecutive pieces while the result stays within max_chars."""
    packed: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > max_chars:
            packed.append(current)
            current = ""
        current += piece
    if current:
        packed.append(current)
    return packed


def _split_long(paragraph: str, max_chars: int) -> list[str]:
    """Cut a paragraph longer than max_chars at line breaks, else at spaces, else anywhere."""
    pieces: list[str] = []
    for line in paragraph.splitlines(keepends=True):
        if len(line) <= max_chars:
            pieces.append(line)
            continue
        for word in re.findall(r"\S+\s*|\s+", line):
            if len(word) <= max_chars:
                pieces.append(word)
            else:  # one unbreakable run
                pieces.extend(word[i : i + max_chars] for i in range(0, len(word), max_chars))
    return [p.strip() for p in _pack(pieces, max_chars) if p.strip()]


def chunk_texts(texts: Iterable[str], max_chars: int, *, min_chars: int = 0) -> list[str]:
    """Pack each text's paragraphs (blank-line separated) into chunks of at most max_chars.

    Why: LLM calibration and perplexity want samples of a bounded, similar length that end at natural
    breaks. Chunks never span two texts; paragraphs longer than max_chars are cut at line breaks or
    spaces; chunks shorter than min_chars (a title, a stray line) are dropped.
    """
    if max_chars <= 0:
        raise TextDataError(f"max_chars must be > 0 (got {max_chars})")
    chunks: list[str] = []
    for text in texts:
        paragraphs: list[str] = []
        for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
            block = block.strip()
            if block:
                paragraphs.extend(_split_long(block, max_chars) if len(block) > max_chars else [block])
        current = ""
        for paragraph in paragraphs:
            if current and len(current) + 2 + len(paragraph) > max_chars:
                chunks.append(current)
                current = paragraph
            else:
                current = f"{current}\n\n{paragraph}" if current else paragraph
        if current:
            chunks.append(current)
    return [chunk for chunk in chunks if len(chunk) >= min_chars]


def _corpus_files(path_or_glob: str | Path) -> list[Path]:
    path = Path(path_or_glob).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CORPUS_SUFFIXES)
    pattern = str(path)
    if is_glob(pattern):
        return sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    raise TextDataError(f"{path}: no such file or folder — check the corpus path")


def load_text_corpus(
    path_or_glob: str | Path,
    *,
    min_chars: int = 200,
    max_chars: int = 2000,
    max_samples: int | None = None,
    seed: int = 0,
) -> list[str]:
    """Paragraph chunks of real text from .txt/.md files, for LLM calibration and perplexity.

    `path_or_glob` is a file, a folder (searched recursively for .txt/.md) or a glob such as
    `.assets/shakespeare/plays/*/*.md`. Files are read in sorted order, Markdown is reduced to plain
    text, and each file is chunked with `chunk_texts(max_chars, min_chars)`. With `max_samples`, that
    many chunks are drawn with `seed` (in the drawn, random order); otherwise all chunks in file order.
    """
    files = _corpus_files(path_or_glob)
    if not files:
        raise TextDataError(f"{path_or_glob}: matches no .txt/.md files — check the corpus path or glob")
    documents = []
    for file in files:
        text = read_text_file(file)
        documents.append(_strip_markdown(text) if file.suffix.lower() == ".md" else text)
    chunks = chunk_texts(documents, max_chars, min_chars=min_chars)
    if not chunks:
        raise TextDataError(f"{path_or_glob}: no text chunk of at least {min_chars} characters — "
                            "lower min_chars or give longer texts")  # fmt: skip
    if max_samples is not None:
        if max_samples <= 0:
            raise TextDataError(f"max_samples must be > 0 (got {max_samples})")
        chunks = random.Random(seed).sample(chunks, min(max_samples, len(chunks)))
    return chunks
