"""Commented starter recipes shipped with the package (`ovtool recipe init KIND`)."""

from __future__ import annotations

from importlib import resources

from ovtool.errors import UserError


def available() -> list[str]:
    folder = resources.files(__package__)
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def starter_text(kind: str) -> str:
    kinds = available()
    if kind not in kinds:
        raise UserError(f"unknown starter {kind!r}: choose one of {', '.join(kinds)}")
    return resources.files(__package__).joinpath(f"{kind}.yaml").read_text()
