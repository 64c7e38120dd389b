"""Fernet encryption of a dataset folder into a self-describing folder, and the key handling around it.

Why ovtool does this itself: Datumaro 1.12 removed dataset encryption (its importer now says
"Encrypted files are no longer supported"). We use what Datumaro used — Fernet from `cryptography`
(AES-128-CBC with an HMAC-SHA256 tag) — but encrypt every file as-is, annotations and media alike, so
`decrypt` restores byte-identical files. File names, sizes-by-name and hashes live only in the
encrypted index; the clear manifest says how to decrypt and nothing about the content.

The key is never printed, logged or written to run.json/recipe.yaml/reports: it comes from an
environment variable or a key file (generated with mode 0600 when missing), and only the variable's
name or the file's path is recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ovtool.errors import UserError

MANIFEST = "ovtool-encrypted.json"
INDEX = "index.fernet"
BLOBS = "blobs"
FORMAT_ID = "ovtool-encrypted-dataset"
VERSION = 1
_KEY_CHECK = b"ovtool-encrypted-dataset key check v1"


@dataclass(frozen=True)
class KeySource:
    """Where the key comes from: an environment variable or a key file (exactly one)."""

    env: str | None = None
    file: Path | None = None

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"key file {self.file}"


def _fernet(key: bytes, where: str) -> Any:
    from cryptography.fernet import Fernet

    try:
        return Fernet(key)
    except ValueError as exc:
        raise UserError(f"{where} does not hold a Fernet key (44 url-safe base64 characters)") from exc


def load_key(source: KeySource) -> bytes:
    """The key bytes from the environment or the key file; a missing key is a UserError."""
    if source.env:
        value = os.environ.get(source.env, "").strip()
        if not value:
            raise UserError(f"environment variable {source.env} is not set: export the dataset key there")
        key = value.encode()
    else:
        assert source.file is not None
        if not source.file.is_file():
            raise UserError(f"key file {source.file} not found")
        key = source.file.read_bytes().strip()
    _fernet(key, source.describe())
    return key


def load_or_create_key(source: KeySource) -> tuple[bytes, bool]:
    """An existing key, or a new one written to the key file with mode 0600 at once (created=True)."""
    key, new = load_or_new_key(source)
    if new:
        assert source.file is not None
        save_new_key(source.file, key)
    return key, new


def load_or_new_key(source: KeySource) -> tuple[bytes, bool]:
    """For encrypt: an existing key, or a new one in memory only (new=True). The caller saves it with
    `save_new_key` once the data is encrypted, so a failed run leaves no key file behind."""
    if source.env or (source.file is not None and source.file.exists()):
        return load_key(source), False
    from cryptography.fernet import Fernet

    return Fernet.generate_key(), True


def save_new_key(file: Path, key: bytes) -> None:
    """Write a new key file with mode 0600; never replaces an existing file."""
    file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise UserError(f"key file {file} appeared while encrypting (another run?): encrypt again to use it") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key + b"\n")
    except BaseException:
        file.unlink(missing_ok=True)  # ours (O_EXCL): never leave a half-written key
        raise


def key_file_warning(source: KeySource) -> str | None:
    """A warning when the key file can be read by group or others."""
    if source.file is None or not source.file.exists():
        return None
    mode = source.file.stat().st_mode & 0o777
    if mode & 0o077:
        return f"key file {source.file} has mode {mode:o}: restrict it with chmod 600"
    return None


def is_encrypted(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path / MANIFEST}: not a readable ovtool encryption manifest") from exc
    if manifest.get("format") != FORMAT_ID or manifest.get("version") != VERSION:
        raise UserError(f"{path / MANIFEST}: not an ovtool encrypted dataset (version {VERSION})")
    return manifest


def safe_relpath(name: str, where: str) -> PurePosixPath:
    """A relative path that stays inside its folder; `..`, absolute paths and drive letters are refused."""
    rel = PurePosixPath(name.replace("\\", "/"))
    if not name or rel.is_absolute() or ".." in rel.parts or ":" in rel.parts[0]:
        raise UserError(f"{where}: member {name!r} would be written outside the dataset folder; refusing it")
    return rel


def encrypt_folder(src: Path, dst: Path, key: bytes, *, dataset_format: str | None) -> dict[str, Any]:
    """Encrypt every file under `src` into `dst` (manifest, encrypted index, one blob per file)."""
    import cryptography

    fernet = _fernet(key, "the key")
    files = sorted(p for p in src.rglob("*") if p.is_file())
    if not files:
        raise UserError(f"{src}: no files to encrypt")
    (dst / BLOBS).mkdir(parents=True)
    entries = []
    total = 0
    for number, file in enumerate(files):
        data = file.read_bytes()
        blob = f"{number:06d}.fernet"
        (dst / BLOBS / blob).write_bytes(fernet.encrypt(data))
        entries.append({"path": file.relative_to(src).as_posix(), "blob": blob, "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
        total += len(data)
    index = {"dataset_format": dataset_format, "files": entries}
    (dst / INDEX).write_bytes(fernet.encrypt(json.dumps(index).encode()))
    manifest = {
        "format": FORMAT_ID,
        "version": VERSION,
        "cipher": "Fernet (AES-128-CBC + HMAC-SHA256), one token per file",
        "library": f"cryptography {cryptography.__version__}",
        "index": INDEX,
        "blobs": BLOBS,
        "files": len(entries),
        "key_check": fernet.encrypt(_KEY_CHECK).decode(),
        "decrypt_with": "ovtool dataset decrypt THIS_FOLDER -o OUT --key-file KEY (or --key-env VAR)",
    }
    (dst / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return {"files": len(entries), "plaintext_bytes": total}


def open_index(path: Path, key: bytes, source: KeySource) -> tuple[Any, dict[str, Any]]:
    """(Fernet, decrypted index) of an encrypted folder; a wrong key is a UserError naming the key source."""
    from cryptography.fernet import InvalidToken

    manifest = read_manifest(path)
    fernet = _fernet(key, source.describe())
    try:
        fernet.decrypt(manifest["key_check"].encode())
    except InvalidToken as exc:
        raise UserError(f"wrong key: {source.describe()} does not decrypt {path}") from exc
    try:
        index = json.loads(fernet.decrypt((path / manifest["index"]).read_bytes()))
    except (InvalidToken, OSError, ValueError) as exc:
        raise UserError(f"{path / manifest['index']}: the encrypted index is damaged") from exc
    for entry in index["files"]:
        safe_relpath(entry["path"], str(path / manifest["index"]))
        safe_relpath(entry["blob"], str(path / manifest["index"]))
    return fernet, index


def decrypt_entry(path: Path, fernet: Any, entry: dict[str, Any]) -> bytes:
    """One file's plaintext, checked against the sha256 recorded at encryption."""
    from cryptography.fernet import InvalidToken

    blob = path / BLOBS / entry["blob"]
    try:
        data = fernet.decrypt(blob.read_bytes())
    except (InvalidToken, OSError) as exc:
        raise UserError(f"{blob}: damaged or missing encrypted file (for {entry['path']})") from exc
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise UserError(f"{blob}: decrypted content does not match its recorded hash (for {entry['path']})")
    return data


def decrypt_folder(src: Path, dst: Path, key: bytes, source: KeySource) -> dict[str, Any]:
    """Restore every file of an encrypted folder into `dst`, byte-identical."""
    fernet, index = open_index(src, key, source)
    total = 0
    for entry in index["files"]:
        data = decrypt_entry(src, fernet, entry)
        target = dst / safe_relpath(entry["path"], str(src))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        total += len(data)
    return {"files": len(index["files"]), "plaintext_bytes": total, "dataset_format": index.get("dataset_format")}
