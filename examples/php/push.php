<?php
// Insert a row, then push it to every open page: the seeds' live-list scenario, from a PHP backend.
//
//   php examples/php/push.php "2 kg coffee beans" 3
//
// Needs php-cli with pdo_sqlite and curl (Debian: apt-get install php-cli php-sqlite3 php-curl; without the curl
// extension the script falls back to PHP's HTTP stream wrapper). Settings come from the environment:
//   HERALD_URL      Herald's HTTP address           (default http://localhost:8080)
//   HERALD_API_KEY  the API key                     (default: apiKey in ./data/secrets.json)
//   HERALD_DB       the SQLite file with the orders (default ./data/demo.db, the demo page's database)

$item = $argv[1] ?? 'coffee beans';
$quantity = (int) ($argv[2] ?? 1);
$url = rtrim(getenv('HERALD_URL') ?: 'http://localhost:8080', '/');
$dbFile = getenv('HERALD_DB') ?: './data/demo.db';
$key = getenv('HERALD_API_KEY');
if (!$key) {
    $secrets = json_decode((string) @file_get_contents('./data/secrets.json'), true);
    $key = $secrets['apiKey'] ?? null;
}
if (!$key) {
    fwrite(STDERR, "No API key: set HERALD_API_KEY or run from the directory holding data/secrets.json\n");
    exit(1);
}

// 1. Insert the row.
@mkdir(dirname($dbFile), 0777, true);
$db = new PDO('sqlite:' . $dbFile, null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$db->exec('PRAGMA busy_timeout = 5000');
$db->exec('CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL, quantity INTEGER NOT NULL,
    user TEXT NOT NULL, created_at INTEGER NOT NULL)');
$createdAt = (int) round(microtime(true) * 1000);
$insert = $db->prepare('INSERT INTO orders (item, quantity, user, created_at) VALUES (?, ?, ?, ?)');
$insert->execute([$item, $quantity, 'php-backend', $createdAt]);
$order = ['id' => (int) $db->lastInsertId(), 'item' => $item, 'quantity' => $quantity, 'user' => 'php-backend', 'createdAt' => $createdAt];

// 2. Push it: every page subscribed to the "orders" channel shows the row at once.
$body = json_encode(['to' => ['channel' => 'orders'], 'event' => 'order', 'data' => $order]);
$headers = ['Authorization: Bearer ' . $key, 'Content-Type: application/json'];
if (function_exists('curl_init')) {
    $ch = curl_init($url . '/api/publish');
    curl_setopt_array($ch, [CURLOPT_POST => true, CURLOPT_POSTFIELDS => $body, CURLOPT_HTTPHEADER => $headers, CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10]);
    $reply = curl_exec($ch);
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    if ($reply === false) { fwrite(STDERR, 'publish failed: ' . curl_error($ch) . "\n"); exit(1); }
} else {
    $ctx = stream_context_create(['http' => ['method' => 'POST', 'header' => implode("\r\n", $headers), 'content' => $body, 'ignore_errors' => true, 'timeout' => 10]]);
    $reply = @file_get_contents($url . '/api/publish', false, $ctx);
    if ($reply === false) { fwrite(STDERR, "publish failed: Herald unreachable at $url\n"); exit(1); }
    preg_match('{HTTP/\S+ (\d+)}', $http_response_header[0] ?? '', $m);
    $status = (int) ($m[1] ?? 0);
}
if ($status !== 200) {
    fwrite(STDERR, "publish failed: HTTP $status $reply\n");
    exit(1);
}
echo "order #{$order['id']} stored and pushed: $reply\n";
