"""Writing files so that nothing is lost.

Each file is written under a temporary name in its own folder, flushed to disk, given the
permissions a plain ``open`` would give, and renamed into place: a reader sees the old file or the
whole new one, never half of it. Temporary files are named ``.<name>.<random>.tmp``
(``TMP_SUFFIX``) so that a resumed job can sweep up leftovers.

A run's folder is written the same way as a whole (:class:`StagedDir`): into a temporary folder
beside the target, ``.<name>.<pid>.<random>.tmp``, renamed into place when every file is complete.
A run leaves a complete folder or nothing; a folder a killed run left is removed by the next run
into the same place once its process is gone.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from market.errors import UserError

TMP_SUFFIX = ".tmp"

#: errors of the file system a user can cause (or fix): a one-line message and exit 2, not a bug
USER_ERRNOS = frozenset({
    errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
    errno.ENAMETOOLONG, errno.EEXIST, errno.ENOENT, errno.ELOOP, errno.EFBIG, errno.EMLINK, errno.ENXIO,
    errno.EBUSY, errno.ETXTBSY, errno.EXDEV, errno.EIO,
})


def describe_os_error(exc: OSError) -> str:
    """An OSError in one line: the file and what the system said."""
    what = exc.strerror or str(exc) or type(exc).__name__
    name = exc.filename
    return f"{name}: {what}" if name else what


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, then move the temporary file to ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's files are private (0600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_bytes(data: bytes, path: Path) -> None:
    def w(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    atomic_write(path, w)


def write_parquet(table: pa.Table, path: Path) -> None:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


# ---------------------------------------------------------------------------- output folders


def check_out_dir(out: Path, flag: str = "--out", replaceable: Iterable[str] | None = None) -> None:
    """Refuse, before any work, a folder the output cannot go to: empty, the working directory or
    one that holds it, under a file, a file or device itself, or (with ``replaceable``) a folder
    holding files other than those names (and temporary files), which a run would replace."""
    text = str(out)
    if not text.strip():
        raise UserError(f"{flag} {text!r}: expected the path of a folder")
    try:
        full = Path(os.path.abspath(out))
        cwd = Path.cwd().resolve()
        real = full.resolve()
    except OSError as exc:
        raise UserError(f"{flag} {out}: {describe_os_error(exc)}") from None
    if real == cwd or real in cwd.parents:
        raise UserError(f"{flag} {out}: is the working directory or holds it; choose a folder for the output")
    if full.exists() or full.is_symlink():
        if not full.is_dir():
            raise UserError(f"{flag} {out}: exists and is not a folder")
        if replaceable is not None:
            allowed = set(replaceable)
            try:
                foreign = sorted(p.name for p in full.iterdir()
                                 if p.name not in allowed and not (p.name.startswith(".") and p.name.endswith(TMP_SUFFIX)))
            except OSError as exc:
                raise UserError(f"{flag} {out}: {describe_os_error(exc)}") from None
            if foreign:
                raise UserError(f"{flag} {out}: the folder holds files that are not a run's ({', '.join(foreign[:3])}"
                                f"{', ...' if len(foreign) > 3 else ''}), which writing the run would remove; "
                                "choose a new or empty folder")
        if not os.access(full, os.W_OK | os.X_OK):
            raise UserError(f"{flag} {out}: the folder is not writable")
        return
    ancestor = full.parent
    while not ancestor.exists():
        if ancestor.is_symlink():  # a dangling link
            raise UserError(f"{flag} {out}: {ancestor} is a broken link")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{flag} {out}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {out}: cannot create it: {ancestor} is not writable")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(parent: Path, name: str) -> None:
    """Remove the temporary folders (and files) of ``name`` that a killed run left in ``parent``."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    prefix = f".{name}."
    for p in entries:
        if not (p.name.startswith(prefix) and p.name.endswith(TMP_SUFFIX)):
            continue
        pid = p.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or _alive(int(pid))):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


class StagedDir:
    """A folder written whole: files go into ``path``, a temporary folder beside ``target``, and
    :meth:`commit` renames it into place (replacing an earlier run's folder, so no stale file of it
    stays); :meth:`discard` (or leaving the ``with`` block on an error) removes it."""

    def __init__(self, target: Path, flag: str = "--out") -> None:
        self.target = Path(os.path.abspath(target))
        self.flag = flag
        self.shown = target
        self._made: list[Path] = []
        parent = self.target.parent
        missing = []
        p = parent
        while not p.exists():
            missing.append(p)
            p = p.parent
        try:
            for d in reversed(missing):
                d.mkdir()
                self._made.append(d)
            clean_stale(parent, self.target.name)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.{os.getpid()}.", suffix=TMP_SUFFIX,
                                              dir=parent))
        except OSError as exc:
            self._remove_made()
            raise UserError(f"{flag} {target}: cannot create it: {exc.strerror or exc}") from None
        os.chmod(self.path, 0o777 & ~_umask())  # mkdtemp's folders are private (0700)

    def __enter__(self) -> StagedDir:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is not None:
            self.discard()

    def commit(self) -> None:
        try:
            _fsync_dir(self.path)
            if self.target.exists() or self.target.is_symlink():
                old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.{os.getpid()}.", suffix=TMP_SUFFIX,
                                            dir=self.target.parent))
                os.rmdir(old)
                os.rename(self.target, old)
                try:
                    os.rename(self.path, self.target)
                except OSError:
                    os.rename(old, self.target)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(self.path, self.target)
            _fsync_dir(self.target.parent)
        except OSError as exc:
            self.discard()
            raise UserError(f"{self.flag} {self.shown}: cannot write: {describe_os_error(exc)}") from None

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._remove_made()

    def _remove_made(self) -> None:
        for d in reversed(self._made):
            try:
                d.rmdir()
            except OSError:
                break
        self._made = []


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
