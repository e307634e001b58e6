#!/usr/bin/env python3
"""Insert a row, then push it to every open page: the seeds' live-list scenario, from a Python backend.

    python3 examples/python/push.py "2 kg coffee beans" 3

Standard library only (sqlite3, urllib). Settings come from the environment:
  HERALD_URL      Herald's HTTP address           (default http://localhost:8080)
  HERALD_API_KEY  the API key                     (default: apiKey in ./data/secrets.json)
  HERALD_DB       the SQLite file with the orders (default ./data/demo.db, the demo page's database)
"""
import json
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.request

item = sys.argv[1] if len(sys.argv) > 1 else "coffee beans"
quantity = int(sys.argv[2]) if len(sys.argv) > 2 else 1
url = (os.environ.get("HERALD_URL") or "http://localhost:8080").rstrip("/")
db_file = os.environ.get("HERALD_DB") or "./data/demo.db"

key = os.environ.get("HERALD_API_KEY")
if not key:
    try:
        with open("./data/secrets.json", encoding="utf-8") as f:
            key = json.load(f)["apiKey"]
    except (OSError, ValueError, KeyError):
        sys.exit("No API key: set HERALD_API_KEY or run from the directory holding data/secrets.json")

# 1. Insert the row.
os.makedirs(os.path.dirname(db_file) or ".", exist_ok=True)
db = sqlite3.connect(db_file, timeout=5)
db.execute(
    """CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL, quantity INTEGER NOT NULL,
    user TEXT NOT NULL, created_at INTEGER NOT NULL)"""
)
created_at = int(time.time() * 1000)
with db:  # commits the insert
    cur = db.execute(
        "INSERT INTO orders (item, quantity, user, created_at) VALUES (?, ?, ?, ?)",
        (item, quantity, "python-backend", created_at),
    )
db.close()
order = {"id": cur.lastrowid, "item": item, "quantity": quantity, "user": "python-backend", "createdAt": created_at}

# 2. Push it: every page subscribed to the "orders" channel shows the row at once.
body = json.dumps({"to": {"channel": "orders"}, "event": "order", "data": order}).encode()
req = urllib.request.Request(
    url + "/api/publish",
    data=body,
    method="POST",
    headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"},
)
try:
    with urllib.request.urlopen(req, timeout=10) as res:
        reply = res.read().decode()
except urllib.error.HTTPError as e:
    sys.exit(f"publish failed: HTTP {e.code} {e.read().decode()}")
except urllib.error.URLError as e:
    sys.exit(f"publish failed: Herald unreachable at {url} ({e.reason})")
print(f"order #{order['id']} stored and pushed: {reply}")
