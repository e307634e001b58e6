// Insert a row, then push it to every open page: the seeds' live-list scenario, from a Node backend.
//
//   node examples/node/push.mjs "2 kg coffee beans" 3
//
// Uses better-sqlite3 (npm install better-sqlite3; Herald itself depends on it) and Node's built-in fetch
// (Node 18+). Settings come from the environment:
//   HERALD_URL      Herald's HTTP address           (default http://localhost:8080)
//   HERALD_API_KEY  the API key                     (default: apiKey in ./data/secrets.json)
//   HERALD_DB       the SQLite file with the orders (default ./data/demo.db, the demo page's database)
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

const item = process.argv[2] ?? 'coffee beans';
const quantity = Number.parseInt(process.argv[3] ?? '1', 10);
const url = (process.env.HERALD_URL || 'http://localhost:8080').replace(/\/+$/, '');
const dbFile = process.env.HERALD_DB || './data/demo.db';

function apiKey() {
  if (process.env.HERALD_API_KEY) return process.env.HERALD_API_KEY;
  try {
    return JSON.parse(readFileSync('./data/secrets.json', 'utf8')).apiKey;
  } catch {
    console.error('No API key: set HERALD_API_KEY or run from the directory holding data/secrets.json');
    process.exit(1);
  }
}
const key = apiKey();

// 1. Insert the row.
mkdirSync(dirname(dbFile), { recursive: true });
const db = new Database(dbFile);
db.pragma('busy_timeout = 5000');
db.exec(`CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL, quantity INTEGER NOT NULL,
  user TEXT NOT NULL, created_at INTEGER NOT NULL)`);
const createdAt = Date.now();
const { lastInsertRowid } = db
  .prepare('INSERT INTO orders (item, quantity, user, created_at) VALUES (?, ?, ?, ?)')
  .run(item, quantity, 'node-backend', createdAt);
db.close();
const order = { id: Number(lastInsertRowid), item, quantity, user: 'node-backend', createdAt };

// 2. Push it: every page subscribed to the "orders" channel shows the row at once.
const res = await fetch(`${url}/api/publish`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ to: { channel: 'orders' }, event: 'order', data: order }),
});
const reply = await res.text();
if (!res.ok) {
  console.error(`publish failed: HTTP ${res.status} ${reply}`);
  process.exit(1);
}
console.log(`order #${order.id} stored and pushed: ${reply}`);
