"""Bounds on an uploaded workbook, checked before anything is expanded, and reading it where
a crash or a runaway cannot take the caller with it.

A 5 KB .xlsx can declare a cell at ``XFD1048576``; the Excel engine then lays out a grid of
a million rows by sixteen thousand columns (hundreds of gigabytes) and the process aborts. A
3 MB file can unpack to a gigabyte of XML. So, before any engine sees an .xlsx:

* every part the engine reads (worksheets, shared strings) is decompressed as a stream and
  its unpacked size counted against :attr:`Limits.unpacked_bytes`;
* each worksheet's declared dimension (``<dimension ref>``), its furthest cell, its number
  of rows holding cells and of cells are checked against :attr:`Limits.rows`,
  :attr:`Limits.columns` and :attr:`Limits.cells`.

What passes is parsed in a child process (:func:`read_isolated`) with an address-space limit
(``RLIMIT_AS``) and a timeout: a legacy .xls, which has no such cheap scan, or anything the
scan missed, then costs the child, never the server or the command.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, replace
from typing import Any

from router.sheets.read import _HEADER_SCAN, PlainFrame, Table, TableError, read_table_bytes

__all__ = ["Limits", "PendingRead", "check_xlsx_bounds", "read_isolated", "start_isolated"]

_CHUNK = 1 << 20
_TAIL = 1024  # longer than any tag the patterns below match
_ROW = re.compile(rb"<(?:\w{1,16}:)?row\b")
_CELL_REF = re.compile(rb"<(?:\w{1,16}:)?c\b[^>]{0,400}?\br=\"([A-Z]{1,4})(\d{1,9})\"")
_CELL = re.compile(rb"<(?:\w{1,16}:)?c\b")
_DIMENSION = re.compile(rb"<(?:\w{1,16}:)?dimension\b[^>]{0,200}?\bref=\"([^\"]{1,40})\"")
_RANGE_END = re.compile(r"([A-Z]{1,4})(\d{1,9})$")


@dataclass(frozen=True)
class Limits:
    """The documented bounds of an upload (``ROUTER_BATCH_*``)."""

    rows: int = 50_000  # data rows
    columns: int = 200
    cells: int = 5_000_000
    unpacked_bytes: int = 200 * 2**20
    memory_bytes: int = 1024 * 2**20  # the child's address space beyond what it starts with
    seconds: float = 60.0

    @property
    def sheet_rows(self) -> int:
        """Rows a sheet may hold: the data rows, a title and header, and some blank lines."""
        return self.rows + _HEADER_SCAN + max(1000, self.rows // 10)

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            rows=settings.batch_max_rows,
            columns=settings.batch_max_columns,
            cells=settings.batch_max_cells,
            unpacked_bytes=settings.batch_max_unpacked_mb * 2**20,
            memory_bytes=settings.batch_parse_memory_mb * 2**20,
            seconds=settings.batch_parse_seconds,
        )


def _col_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters if isinstance(letters, str) else letters.decode():
        n = n * 26 + ord(ch) - 64
    return n


def _too_big(name: str, what: str) -> TableError:
    return TableError(
        f"{name} {what}，超出批量处理的上限。请只保留台帐所在的工作表和列，或按年度、届次拆分后分别处理。",
        413,
    )


@dataclass
class _SheetScan:
    rows: int = 0
    cells: int = 0
    max_row: int = 0
    max_col: int = 0


def check_xlsx_bounds(data: bytes, name: str, limits: Limits) -> None:
    """Refuse an .xlsx whose sheets or unpacked parts exceed ``limits`` (TableError 413/422).

    Reads each part once as a stream; nothing is kept but counts. Not a zip or not a
    workbook: left for the reader, which says so.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    with zf:
        parts = [i for i in zf.infolist() if _engine_reads(i.filename)]
        declared = sum(i.file_size for i in parts)
        if declared > limits.unpacked_bytes:  # an honest header: no need to unpack to know
            raise _too_big(
                name,
                f"解压后有 {declared / 2**20:.0f} MB（上限 {limits.unpacked_bytes // 2**20} MB）",
            )
        unpacked = 0  # counted as unpacked too: a header can lie
        for info in parts:
            part = info.filename
            is_sheet = part.startswith(("xl/worksheets/", "xl/chartsheets/"))
            scan = _SheetScan()
            try:
                with zf.open(info) as stream:
                    unpacked = _scan_part(stream, name, part, is_sheet, scan, limits, unpacked)
            except TableError:
                raise
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                raise TableError(
                    f"{name} 已损坏（{part} 无法解压），无法打开。请在 Excel 中打开后另存再试。"
                ) from exc


def _engine_reads(part: str) -> bool:
    """The parts an engine expands: worksheets and the shared strings."""
    if not part.startswith("xl/") or not part.endswith(".xml"):
        return False
    return part.startswith(("xl/worksheets/", "xl/chartsheets/")) or part == "xl/sharedStrings.xml"


def _scan_part(
    stream: Any,
    name: str,
    part: str,
    is_sheet: bool,
    scan: _SheetScan,
    limits: Limits,
    unpacked: int,
) -> int:
    tail = b""
    first = True
    while True:
        chunk = stream.read(_CHUNK)
        unpacked += len(chunk)
        if unpacked > limits.unpacked_bytes:
            raise _too_big(
                name, f"解压后超过 {limits.unpacked_bytes // 2**20} MB（文件中的表格内容过多）"
            )
        if not is_sheet:
            if not chunk:
                return unpacked
            continue
        buf = tail + chunk
        last = not chunk
        cut = len(buf) if last else max(0, len(buf) - _TAIL)
        if first:
            _check_dimension(buf, name, limits)
            first = False
        scan.rows += sum(1 for m in _ROW.finditer(buf, 0, len(buf)) if m.start() < cut)
        scan.cells += sum(1 for m in _CELL.finditer(buf) if m.start() < cut)
        for m in _CELL_REF.finditer(buf):
            if m.start() >= cut:
                break
            scan.max_col = max(scan.max_col, _col_number(m.group(1)))
            scan.max_row = max(scan.max_row, int(m.group(2)))
        _check_scan(scan, name, limits)
        if last:
            return unpacked
        tail = buf[cut:]


def _check_dimension(head: bytes, name: str, limits: Limits) -> None:
    m = _DIMENSION.search(head[:4096] if len(head) > 4096 else head)
    if m is None:
        return
    end = _RANGE_END.search(m.group(1).decode("ascii", "replace").upper())
    if end is None:
        return
    cols, rows = _col_number(end.group(1)), int(end.group(2))
    if cols > limits.columns or rows > limits.sheet_rows or rows * cols > limits.cells:
        raise _too_big(
            name,
            f"声明的表格范围到 {end.group(0)}（{rows} 行 × {cols} 列）",
        )


def _check_scan(scan: _SheetScan, name: str, limits: Limits) -> None:
    if scan.max_col > limits.columns:
        raise _too_big(name, f"有内容写到了第 {scan.max_col} 列（上限 {limits.columns} 列）")
    if scan.max_row > limits.sheet_rows or scan.rows > limits.sheet_rows:
        rows = max(scan.max_row, scan.rows)
        raise _too_big(name, f"有内容写到了第 {rows} 行（上限 {limits.rows} 行数据）")
    if scan.cells > limits.cells or scan.max_row * scan.max_col > limits.cells:
        raise _too_big(name, f"的单元格超过 {limits.cells} 个")


# -- the child ----------------------------------------------------------------------------
def _limit_memory(extra: int) -> None:
    import resource

    with open("/proc/self/statm", encoding="ascii") as fh:
        virtual = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = virtual + extra
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _memory_error(name: str, limits: Limits) -> TableError:
    return TableError(
        f"{name} 读取时所需内存超过 {limits.memory_bytes // 2**20} MB 的上限，已停止。"
        "请只保留台帐所在的工作表，或拆分后分别处理。",
        413,
    )


def read_isolated(data: bytes, name: str, limits: Limits, **kwargs: Any) -> Table:
    """:func:`router.sheets.read.read_table_bytes`, bounded: the .xlsx scan here, then the
    parse in a child process with ``limits.memory_bytes`` more address space than it starts
    with and ``limits.seconds`` to finish. A TableError the child raises comes back as one;
    a child that runs out of memory, crashes or overruns becomes a TableError for the clerk.

    The child is forked by a reading server (:class:`_Readers`), never by this process: the
    service has threads, and a fork of a threaded process may inherit a lock held forever.
    """
    return start_isolated(data, name, limits, **kwargs).result()


def start_isolated(data: bytes, name: str, limits: Limits, **kwargs: Any) -> PendingRead:
    """:func:`read_isolated` in two halves: the scan and the child's start now, the table
    from :meth:`PendingRead.result`, so that the caller can load its model meanwhile."""
    if data.startswith(b"PK"):
        check_xlsx_bounds(data, name, limits)
    kwargs.setdefault("max_rows", limits.rows)
    kwargs.setdefault("max_columns", limits.columns)
    request = (data, name, kwargs, limits.memory_bytes, limits.seconds)
    return PendingRead(pickle.dumps(request, pickle.HIGHEST_PROTOCOL), name, limits)


class PendingRead:
    """A child process parsing a workbook (:func:`start_isolated`)."""

    def __init__(self, payload: bytes, name: str, limits: Limits) -> None:
        self.name, self.limits = name, limits
        self.started = time.monotonic()
        try:
            # the request in a file handed over with the socket: nothing here waits for the
            # child to read it
            with tempfile.TemporaryFile() as request:
                request.write(payload)
                request.flush()
                self._conn = _READERS.child(request.fileno())
        except OSError as exc:
            raise TableError(f"无法启动读取 {name} 的子进程：{exc}", 503) from exc

    def result(self) -> Table:
        """The table, once the child is done; a TableError when it failed or overran."""
        name, limits = self.name, self.limits
        chunks: list[bytes] = []
        try:
            with self._conn as conn:
                while True:
                    left = limits.seconds - (time.monotonic() - self.started)
                    conn.settimeout(max(left, 0.001))
                    chunk = conn.recv(_CHUNK)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except TimeoutError:
            raise _overrun(name, limits) from None
        except OSError:
            chunks = []  # the child is gone: as below
        if not chunks and time.monotonic() - self.started >= limits.seconds:
            raise _overrun(name, limits)  # its own alarm ended it just before we gave up
        if not chunks:
            # killed by the allocator (abort) or the kernel: by far most likely a memory bomb
            raise _memory_error(name, limits)
        kind, value, status = pickle.loads(b"".join(chunks))  # noqa: S301 - our own child
        if kind == "ok":
            table: Table = value
            rows: object = table.frame
            return replace(table, frame=rows.frame()) if isinstance(rows, PlainFrame) else table
        if kind == "memory":
            raise _memory_error(name, limits)
        raise TableError(value, status)


def _overrun(name: str, limits: Limits) -> TableError:
    return TableError(
        f"{name} 读取超过 {limits.seconds:.0f} 秒仍未完成，已停止。文件可能过于复杂或已损坏；"
        "请在 Excel 中另存为 .xlsx，或拆分后分别处理。",
        422,
    )


class _Readers:
    """A single-threaded interpreter that forks one child per file it is handed.

    Started on first use and kept: a fresh interpreter per file costs its start each time.
    The caller hands it one end of a new socket pair and the request's file; the child forked
    for them reads the request, answers on the socket and exits. The server stops when the
    process that started it exits, or when every copy of its end is closed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._exit_registered = False

    def child(self, request: int) -> socket.socket:
        """A socket to a newly forked child of the server (started or restarted as needed)
        that reads its request from the file descriptor ``request``."""
        ours, theirs = socket.socketpair()
        try:
            with self._lock:
                for attempt in (1, 2):
                    if self._server is None or self._server.poll() is not None:
                        self._start()
                    assert self._control is not None
                    try:
                        socket.send_fds(self._control, [b"r"], [theirs.fileno(), request])
                        break
                    except OSError:
                        self._stop()
                        if attempt == 2:
                            raise
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return ours

    def _start(self) -> None:
        self._stop()
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, env.get("PYTHONPATH", "")) if p)
        try:
            self._server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "router.sheets.guard", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = ours
        if not self._exit_registered:
            atexit.register(self._stop)
            self._exit_registered = True

    def _stop(self) -> None:
        """Close our end and kill the server (it keeps no state; children already forked
        finish their file). Killed rather than left to see the end: workers forked from this
        process since it started hold copies of our end, so it would not see it until they
        exit."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            self._server.kill()
            self._server.wait()
            self._server = None


_READERS = _Readers()
_SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _serve(control: socket.socket) -> None:
    """The reading server's loop: fork a child for every request handed over, until the end."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    for engine in ("python_calamine", "msoffcrypto", "charset_normalizer"):
        with contextlib.suppress(ImportError):  # imported once here, not in every child
            importlib.import_module(engine)
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(control, 1, 2)
        except OSError:
            return
        if not message:
            return
        if len(fds) == 2:
            if os.fork() == 0:
                control.close()
                try:
                    _child(socket.socket(fileno=fds[0]), fds[1])
                finally:
                    os._exit(0)
        for fd in fds:
            os.close(fd)


def _child(conn: socket.socket, request: int) -> None:
    with os.fdopen(request, "rb") as fh:
        fh.seek(0)
        data, name, kwargs, memory, seconds = pickle.loads(fh.read())  # noqa: S301
    # SIGALRM's default action ends an overrun the caller stopped waiting for (it gives up
    # first, and answers the clerk)
    signal.setitimer(signal.ITIMER_REAL, seconds + 2)
    try:
        _limit_memory(memory)
    except (OSError, ValueError):
        pass  # no /proc or no rlimit: the timeouts still hold
    try:
        rows = read_table_bytes(data, name, plain=True, **kwargs)
        reply: tuple[str, Any, int] = ("ok", rows, 200)
    except TableError as exc:
        reply = ("error", exc.message, exc.status)
    except MemoryError:
        reply = ("memory", "", 413)
    conn.sendall(pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))
    conn.close()


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])))
