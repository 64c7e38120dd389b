"""A trial folder across machines: packed on the node that ran it, published into the driver's OUT.

When the workers cannot see the driver's OUT (no shared filesystem), a Ray task runs its trial in
the node's scratch and sends it back as a `PackedTrial`: the published folder as an uncompressed tar
of plain files and folders, its internal symlinks beside it, the trial's recipe and log. The driver
extracts it with ovtool's bounded extractor (data/archives.py) into a staging folder and publishes
it as `OUT/trials/<id>/` the way every run publishes (RunFolder: two renames, signals deferred), so
a reader never sees half a trial. The recipe and log go beside it (`<id>.yaml`, `<id>.log`).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ovtool import scratch
from ovtool.artifacts import RunFolder, write_atomic
from ovtool.data.archives import Limits, extract_archive
from ovtool.errors import UserError
from ovtool.sweep.executors import TrialJob, trial_files


@dataclass(frozen=True)
class PackedTrial:
    """A trial as it travels: `archive` None when it published nothing (it failed before publish)."""

    archive: bytes | None
    links: dict[str, str]
    recipe: str | None
    log: bytes


def pack_trial(out_dir: Path) -> PackedTrial:
    """What `run_trial` left for a trial publishing into `out_dir` (on this node)."""
    recipe, log = trial_files(TrialJob(id=out_dir.name, recipe_yaml="", out_dir=out_dir, threads=None))
    archive, links = pack_folder(out_dir) if out_dir.is_dir() else (None, {})
    return PackedTrial(
        archive=archive,
        links=links,
        recipe=recipe.read_text() if recipe.is_file() else None,
        log=log.read_bytes() if log.is_file() else b"",
    )


def pack_folder(folder: Path) -> tuple[bytes, dict[str, str]]:
    """A published trial folder as an uncompressed tar of plain files and folders, and its links.

    A relative symlink that stays inside the folder (`model` → `convert/model`) is returned beside
    the tar as {path: target}: the extractor accepts only files and folders, and the link must stay
    a link. Any other link is followed (its content travels); a cache hard link arrives as a file.
    """
    root = folder.resolve()
    links: dict[str, str] = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        stack = [(folder, PurePosixPath())]
        while stack:
            path, rel = stack.pop()
            for entry in sorted(path.iterdir(), reverse=True):
                name = (rel / entry.name).as_posix()
                if entry.name == scratch.OWNER_FILE and not rel.parts:
                    continue
                if entry.is_symlink() and _inside(root, entry.parent.resolve() / os.readlink(entry)):
                    links[name] = os.readlink(entry)
                    continue
                _add(tf, entry, name)
                if entry.is_dir():
                    stack.append((entry, rel / entry.name))
    return buf.getvalue(), links


def _add(tf: tarfile.TarFile, path: Path, arcname: str) -> None:
    st = path.stat()
    info = tarfile.TarInfo(arcname)
    info.mtime = int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(info)
    elif stat.S_ISREG(st.st_mode):
        info.size, info.mode = st.st_size, st.st_mode & 0o777
        with open(path, "rb") as fh:
            tf.addfile(info, fh)


def _inside(root: Path, target: Path) -> bool:
    normal = Path(os.path.normpath(target))
    return normal == root or root in normal.parents


def unpack_trial(job: TrialJob, result: PackedTrial) -> None:
    """Write the trial's recipe and log beside `job.out_dir` and publish its folder there atomically.

    An uncompressed tar cannot expand beyond its own length, so that bounds the extraction.
    """
    recipe, log = trial_files(job)
    recipe.parent.mkdir(parents=True, exist_ok=True)
    if result.recipe is not None:
        write_atomic(recipe, result.recipe.encode())
    if result.log is not None:
        write_atomic(log, result.log)
    if result.archive is None:
        return
    limits = Limits(max_bytes=len(result.archive), max_members=max(1, len(result.archive) // 512))
    with scratch.owned_tempdir("ovtool-ray-gather-", parent=job.out_dir.parent) as tmp:
        archive = tmp / f"trial-{job.id}.tar"
        archive.write_bytes(result.archive)
        run = RunFolder(job.out_dir, overwrite=True)
        with run as staging:
            extract_archive(archive, staging, limits)
            _make_links(staging, result.links)
            run.publish()


def _make_links(folder: Path, links: dict[str, str]) -> None:
    """Recreate the folder's internal symlinks; one that would point (or sit) outside refuses the trial."""
    root = folder.resolve()
    for name, target in links.items():
        rel = PurePosixPath(name)
        link = root / rel
        if rel.is_absolute() or ".." in rel.parts or os.path.isabs(target) or not _inside(root, link.parent / target):
            raise UserError(f"trial link {name!r} -> {target!r} points outside the trial folder; refusing it")
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, link)
