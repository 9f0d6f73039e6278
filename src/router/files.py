"""File modes for what the service writes: readable by the group, as the umask allows.

``tempfile.mkstemp`` and ``mkdtemp`` create 0600 files and 0700 folders; a workbook or a model
version written through them and renamed into place would stay unreadable to the office's
other accounts (and to a backup job). :func:`shareable` gives them the modes a plain ``open``
or ``mkdir`` would have had: 0644/0755 under the usual umask 022, 0640/0750 under 027.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

_lock = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _lock:  # no /proc: set and restore, under a lock
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def shareable(path: Path | str, *, directory: bool = False) -> None:
    """Give a file made by ``mkstemp`` (or a folder by ``mkdtemp``) the umask's usual mode."""
    base = 0o777 if directory else 0o666
    os.chmod(path, base & ~current_umask())


_OS_REASONS = {
    errno.ENOENT: "文件或文件夹不存在",
    errno.EACCES: "没有访问权限",
    errno.EPERM: "没有操作权限",
    errno.EISDIR: "这是文件夹，不是文件",
    errno.ENOTDIR: "路径中有一段不是文件夹",
    errno.ENOSPC: "磁盘空间不足",
    errno.EROFS: "文件系统只读",
    errno.EEXIST: "已经存在",
    errno.EBUSY: "文件正被占用",
    errno.ENAMETOOLONG: "文件名太长",
    errno.EADDRINUSE: "端口已被占用",
}


def os_reason(exc: OSError) -> str:
    """Why a file operation failed, in Chinese (the system's errno text is English)."""
    if exc.errno in _OS_REASONS:
        return _OS_REASONS[exc.errno]
    return f"系统错误（{exc.errno}）" if exc.errno else "系统错误"
