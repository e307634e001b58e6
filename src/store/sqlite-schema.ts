import type Database from 'better-sqlite3';

/** The SQLite store's tables (sqlite.ts). `log` is the append-only table commits write to; `messages` the indexed one. */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (stream TEXT PRIMARY KEY, top INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  stream TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, event TEXT, time INTEGER NOT NULL,
  PRIMARY KEY (stream, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
  id INTEGER PRIMARY KEY, stream TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, event TEXT, time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS acks (user TEXT PRIMARY KEY, seq INTEGER NOT NULL, epoch TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;
`;

/** Moves everything the log holds into `messages` (duplicates of a move cut by a crash ignored), raising the tops. */
export const INDEX_LOG = `
INSERT OR IGNORE INTO messages (stream, seq, data, event, time) SELECT stream, seq, data, event, time FROM log ORDER BY stream, seq;
INSERT INTO streams (stream, top) SELECT stream, MAX(seq) FROM log WHERE true GROUP BY stream
  ON CONFLICT (stream) DO UPDATE SET top = MAX(top, excluded.top);
DELETE FROM log;`;

type Stmt<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;
type Row = { seq: number; data: string; event: string | null; time: number };

/** The store's prepared statements (typed here: the package's declarations name them). */
export interface Statements {
  getMeta: Stmt<[string], { value: string }>;
  setMeta: Stmt;
  top: Stmt<[string], { top: number }>;
  log: Stmt;
  index: Stmt;
  raiseTop: Stmt;
  dropLog: Stmt;
  loggedStreams: Stmt<[], { stream: string }>;
  read: Stmt<[string, number, number, number, number], Row>;
  first: Stmt<[string, number, number], { first: number | null }>;
  getAck: Stmt<[string], { seq: number; epoch: string }>;
  setAck: Stmt;
  recall: Stmt<[string, number], { value: string }>;
  remember: Stmt;
  trimCount: Stmt;
  trimAge: Stmt;
  sweepIdem: Stmt;
  sweepOld: Stmt;
}

export function prepareStatements(db: Database.Database): Statements {
  return {
    getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)'),
    top: db.prepare<[string], { top: number }>('SELECT top FROM streams WHERE stream = ?'),
    log: db.prepare('INSERT INTO log (stream, seq, data, event, time) VALUES (?, ?, ?, ?, ?)'),
    index: db.prepare('INSERT OR IGNORE INTO messages (stream, seq, data, event, time) VALUES (?, ?, ?, ?, ?)'),
    raiseTop: db.prepare('INSERT INTO streams (stream, top) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET top = MAX(top, excluded.top)'),
    dropLog: db.prepare('DELETE FROM log WHERE id <= ?'),
    loggedStreams: db.prepare<[], { stream: string }>('SELECT DISTINCT stream FROM log'),
    read: db.prepare<[string, number, number, number, number], Row>(
      'SELECT seq, data, event, time FROM messages WHERE stream = ? AND seq > ? AND seq > ? AND time >= ? ORDER BY seq LIMIT ?',
    ),
    first: db.prepare<[string, number, number], { first: number | null }>('SELECT MIN(seq) AS first FROM messages WHERE stream = ? AND seq > ? AND time >= ?'),
    getAck: db.prepare<[string], { seq: number; epoch: string }>('SELECT seq, epoch FROM acks WHERE user = ?'),
    setAck: db.prepare(
      'INSERT INTO acks (user, seq, epoch) VALUES (?, ?, ?) ON CONFLICT (user) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch WHERE excluded.epoch <> acks.epoch OR excluded.seq > acks.seq',
    ),
    recall: db.prepare<[string, number], { value: string }>('SELECT value FROM idempotency WHERE key = ? AND expires > ?'),
    remember: db.prepare(
      'INSERT INTO idempotency (key, value, expires) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires',
    ),
    trimCount: db.prepare('DELETE FROM messages WHERE stream = ? AND seq <= ?'),
    trimAge: db.prepare('DELETE FROM messages WHERE stream = ? AND time < ?'),
    sweepIdem: db.prepare('DELETE FROM idempotency WHERE expires <= ?'),
    sweepOld: db.prepare('DELETE FROM messages WHERE time < ?'),
  };
}
