"""The class board's storage: every drawing the class submits, in one SQLite file.

Students draw a digit, tap the digit they meant, and the drawing (the 28x28 image the model saw),
the intended and predicted digits and the probabilities land here. The board tab reads the same
file to show the class's accuracy and its confusion matrix (intended x predicted).

Thirty students submit at once, so the store is built for concurrent writers: WAL journal (readers
never block the writer), one connection per thread, ``busy_timeout`` so a writer waits for the
lock instead of failing, and every write in one ``BEGIN IMMEDIATE`` transaction. A ``version``
counter changes with every write, so a viewer can tell in one cheap query whether anything is new.

Nobody edits or deletes somebody else's drawing: the only student-side removal is
``undo_last(session_hash)``, which takes back the caller's own latest drawing. Clearing a board
and starting a new one are teacher actions (the UI checks the teacher key).

What a drawing is, the checks on what comes in and the framed pictures made from a drawing are
in ``drawings.py``; this module is the store and the exports made from what it holds (every
query shares the connection handling above).
"""
from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import tempfile
import threading
import time
import uuid
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np

from ...i18n import Text
from .drawings import (
    NUM_CLASSES,
    AddResult,
    BoardError,
    BoardSession,
    Submission,
    Summary,
    check_digit,
    check_image,
    check_probs,
    clean_nickname,
    clean_text,
    encode_png,
    timestamp,
)

FIRST_TITLE = "Board 1"      # the board a new database starts with (pages show it as board.first_title)
BUSY_TIMEOUT_MS = 10_000     # a writer waits this long for the lock before giving up
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS board_sessions (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    title    TEXT NOT NULL,
    created  REAL NOT NULL                      -- unix time
);
CREATE TABLE IF NOT EXISTS submissions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused, even after a clear
    uid           TEXT NOT NULL UNIQUE,                -- random, names exported files and thumbnails
    board_session INTEGER NOT NULL REFERENCES board_sessions(id),
    session_hash  TEXT NOT NULL,                       -- the submitting browser session (Gradio's)
    nickname      TEXT NOT NULL DEFAULT '',
    intended      INTEGER NOT NULL CHECK (intended BETWEEN 0 AND 9),
    predicted     INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9),
    probs         TEXT NOT NULL,                       -- JSON list of 10 probabilities
    model         TEXT NOT NULL,                       -- model key in the zoo
    image         BLOB NOT NULL,                       -- 28x28 PNG, the image the model saw
    digest        TEXT NOT NULL,                       -- hash of image + intended: one tap, one row
    created       REAL NOT NULL,
    UNIQUE (board_session, session_hash, digest)
);
CREATE INDEX IF NOT EXISTS submissions_by_board ON submissions (board_session, id);
CREATE TABLE IF NOT EXISTS board_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    current_session INTEGER NOT NULL,
    version         INTEGER NOT NULL                   -- bumps on every write
);
"""


# ---------------------------------------------------------------- the store
def _csv_safe(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text



class BoardStore:
    """All board sessions and their submissions in one SQLite file (safe for many threads)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        conn = self._conn()
        conn.executescript(_SCHEMA)
        with self._write() as c:
            if c.execute("SELECT 1 FROM board_state").fetchone() is None:
                first = self._insert_session(c, FIRST_TITLE)
                c.execute("INSERT INTO board_state (id, current_session, version) VALUES (1, ?, 0)", (first,))
            c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- connections and transactions
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the board store was closed")
            # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE for writes).
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")     # WAL + NORMAL: durable across app crashes
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    class _Transaction:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")       # take the write lock now (waits busy_timeout)
            return self.conn

        def __exit__(self, exc_type, exc, tb) -> None:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

    def _write(self) -> BoardStore._Transaction:
        return BoardStore._Transaction(self._conn())

    @staticmethod
    def _bump(c: sqlite3.Connection) -> None:
        c.execute("UPDATE board_state SET version = version + 1 WHERE id = 1")

    @staticmethod
    def _insert_session(c: sqlite3.Connection, title: str) -> int:
        return c.execute("INSERT INTO board_sessions (title, created) VALUES (?, ?)",
                         (title, time.time())).lastrowid

    def close(self) -> None:
        """Close every connection this store opened (any thread's)."""
        self._closed = True
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- reading
    def version(self) -> int:
        """Changes whenever anything on any board changes: one tiny query, for live viewers."""
        return self._conn().execute("SELECT version FROM board_state WHERE id = 1").fetchone()[0]

    def current_session(self) -> BoardSession:
        row = self._conn().execute(
            "SELECT s.id, s.title, s.created FROM board_state b JOIN board_sessions s "
            "ON s.id = b.current_session").fetchone()
        return BoardSession(*row)

    def sessions(self) -> list[BoardSession]:
        rows = self._conn().execute("SELECT id, title, created FROM board_sessions ORDER BY id").fetchall()
        return [BoardSession(*r) for r in rows]

    def summary(self, session: int | None = None) -> Summary:
        """Counts of the board (the current one unless ``session`` is given), read consistently."""
        conn = self._conn()
        conn.execute("BEGIN")                     # one snapshot for version, session and counts
        try:
            version = conn.execute("SELECT version FROM board_state WHERE id = 1").fetchone()[0]
            board = self._session(conn, session)
            pairs = conn.execute("SELECT intended, predicted, count(*) FROM submissions "
                                 "WHERE board_session = ? GROUP BY intended, predicted", (board.id,))
            cm = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
            for intended, predicted, n in pairs:
                cm[intended, predicted] = n
        finally:
            conn.execute("COMMIT")
        return Summary(board, int(cm.sum()), int(np.trace(cm)), cm, version)

    def _session(self, conn: sqlite3.Connection, session: int | None) -> BoardSession:
        if session is None:
            row = conn.execute("SELECT s.id, s.title, s.created FROM board_state b JOIN board_sessions s "
                               "ON s.id = b.current_session").fetchone()
        else:
            row = conn.execute("SELECT id, title, created FROM board_sessions WHERE id = ?",
                               (int(session),)).fetchone()
            if row is None:
                raise BoardError(Text("board.no_board", n=session))
        return BoardSession(*row)

    def submissions(self, session: int | None = None, intended: int | None = None,
                    predicted: int | None = None, limit: int | None = None,
                    newest_first: bool = True) -> list[Submission]:
        """Submissions of a board, optionally only one cell of its confusion matrix."""
        conn = self._conn()
        board = self._session(conn, session)
        where, args = ["board_session = ?"], [board.id]
        if intended is not None:
            where.append("intended = ?")
            args.append(check_digit(intended, "intended"))
        if predicted is not None:
            where.append("predicted = ?")
            args.append(check_digit(predicted, "predicted"))
        sql = (f"SELECT {_COLUMNS} FROM submissions WHERE {' AND '.join(where)} "
               f"ORDER BY id {'DESC' if newest_first else 'ASC'}")
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_row(r) for r in conn.execute(sql, args)]

    def count(self, session: int | None = None) -> int:
        conn = self._conn()
        board = self._session(conn, session)
        return conn.execute("SELECT count(*) FROM submissions WHERE board_session = ?", (board.id,)).fetchone()[0]

    # -- writing
    def add(self, seen, intended, predicted, probs, model: str, session_hash: str,
            nickname: str | None = "") -> AddResult:
        """Store one drawing on the current board. Sending the same drawing with the same digit
        again from the same browser session returns the stored row instead of a second copy."""
        image = check_image(seen)
        intended = check_digit(intended, "intended")
        predicted = check_digit(predicted, "predicted")
        probs = check_probs(probs)
        if not session_hash:
            raise BoardError(Text("board.no_session"))
        png = encode_png(image)
        digest = hashlib.sha256(png + bytes([intended])).hexdigest()
        values = dict(uid=uuid.uuid4().hex, session_hash=str(session_hash)[:128],
                      nickname=clean_nickname(nickname), intended=intended, predicted=predicted,
                      probs=json.dumps([round(p, 6) for p in probs]), model=str(model or "")[:64],
                      image=png, digest=digest, created=time.time())
        with self._write() as c:
            board = c.execute("SELECT current_session FROM board_state WHERE id = 1").fetchone()[0]
            cursor = c.execute(
                "INSERT INTO submissions (uid, board_session, session_hash, nickname, intended, predicted, "
                "probs, model, image, digest, created) VALUES (:uid, :board, :session_hash, :nickname, "
                ":intended, :predicted, :probs, :model, :image, :digest, :created) "
                "ON CONFLICT (board_session, session_hash, digest) DO NOTHING",
                {**values, "board": board})
            duplicate = cursor.rowcount == 0
            if duplicate:
                row = c.execute(f"SELECT {_COLUMNS} FROM submissions WHERE board_session = ? AND "
                                "session_hash = ? AND digest = ?", (board, values["session_hash"], digest)).fetchone()
            else:
                self._bump(c)
                row = c.execute(f"SELECT {_COLUMNS} FROM submissions WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return AddResult(_row(row), duplicate)

    def undo_last(self, session_hash: str) -> Submission | None:
        """Remove the caller's own latest drawing on the current board (None if there is none).
        There is deliberately no way to remove a drawing by id: one student cannot touch another's."""
        if not session_hash:
            return None
        with self._write() as c:
            row = c.execute(f"SELECT {_COLUMNS} FROM submissions WHERE session_hash = ? AND board_session = "
                            "(SELECT current_session FROM board_state WHERE id = 1) ORDER BY id DESC LIMIT 1",
                            (str(session_hash)[:128],)).fetchone()
            if row is None:
                return None
            c.execute("DELETE FROM submissions WHERE id = ?", (row[0],))
            self._bump(c)
        return _row(row)

    def new_session(self, title: str | None = None,
                    untitled: str = "Board {n} ({when:%d %b %H:%M})") -> BoardSession:
        """Teacher: start an empty board; earlier boards stay in the file (and can be exported).
        ``untitled``: the name of a board given none, with fields ``n`` and ``when`` (a datetime);
        the page passes it in the teacher's language."""
        with self._write() as c:
            n = c.execute("SELECT count(*) FROM board_sessions").fetchone()[0] + 1
            name = clean_text(title, 60) or clean_text(untitled.format(n=n, when=datetime.now()), 60)
            new = self._insert_session(c, name)
            c.execute("UPDATE board_state SET current_session = ? WHERE id = 1", (new,))
            self._bump(c)
            row = c.execute("SELECT id, title, created FROM board_sessions WHERE id = ?", (new,)).fetchone()
        return BoardSession(*row)

    def clear(self, session: int | None = None) -> int:
        """Teacher: delete every drawing of a board (the current one by default); returns how many."""
        with self._write() as c:
            board = self._session(c, session)
            n = c.execute("DELETE FROM submissions WHERE board_session = ?", (board.id,)).rowcount
            self._bump(c)
        return n

    # -- export
    def export_csv(self, path: str | Path, session: int | None = None) -> Path:
        """One row per drawing: who (nickname), what they meant, what the network saw, with what
        probabilities, and the PNG's name inside the zip export."""
        path = Path(path)
        rows = self.submissions(session, newest_first=False)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "board", "created_utc", "nickname", "intended", "predicted", "correct",
                             "model", *[f"p{d}" for d in range(NUM_CLASSES)], "png"])
            for s in rows:
                writer.writerow([s.id, s.board_session, timestamp(s.created), _csv_safe(s.nickname),
                                 s.intended, s.predicted, int(s.correct), s.model,
                                 *[f"{p:.6f}" for p in s.probs], png_name(s)])
        return path

    def export_zip(self, path: str | Path, session: int | None = None) -> Path:
        """The drawings as PNGs in one folder per intended digit (ImageFolder layout: a data set
        the class made) plus labels.csv."""
        path = Path(path)
        board = self._session(self._conn(), session)
        rows = self.submissions(board.id, newest_first=False)
        with tempfile.TemporaryDirectory() as tmp:
            labels = self.export_csv(Path(tmp) / "labels.csv", board.id)
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.write(labels, "labels.csv")
                z.writestr("README.txt", (
                    f"cnnlab class board: {board.title}\n"
                    f"{len(rows)} drawings, exported {timestamp(time.time())}.\n"
                    "Each drawing is the 28x28 image the network saw (white ink on black, like MNIST),\n"
                    "in a folder named after the digit the student meant. labels.csv has the details.\n"))
                for s in rows:
                    z.writestr(png_name(s), s.png)
        return path


def png_name(s: Submission) -> str:
    """Where a drawing goes in the zip export: ``<intended>/<id>_meant<i>_saw<p>.png``."""
    return f"{s.intended}/{s.id:05d}_meant{s.intended}_saw{s.predicted}.png"


_COLUMNS = ("id, uid, board_session, session_hash, nickname, intended, predicted, probs, model, "
            "image, created")


def _row(r) -> Submission:
    return Submission(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(json.loads(r[7])), r[8], bytes(r[9]), r[10])
