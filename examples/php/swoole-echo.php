<?php
// Seed 004's Swoole WebSocket server, as a Herald webhook: Herald holds the WebSocket connections on port 9501
// (`herald start --profile swoole`) and posts each connection's open, message and close to this script; what it
// prints for a message goes back to that client as one text frame, as `$server->push($frame->fd, ...)` did.
//
//   php -S 127.0.0.1:9000 examples/php/swoole-echo.php        # the webhook (PHP's built-in server, router script)
//   HERALD_WEBHOOK_URL=http://127.0.0.1:9000/ npx herald start --profile swoole
//
// The page stays as it was: new WebSocket("ws://your_server_ip:9501"). Settings come from the environment:
//   HERALD_WEBHOOK_SECRET  the key Herald signs its calls with (default: its API key, HERALD_API_KEY, or else
//                          apiKey in ./data/secrets.json, which Herald writes on first start)
// The script also runs under php-fpm or Apache: it only reads the request and prints the reply.

$secret = getenv('HERALD_WEBHOOK_SECRET') ?: getenv('HERALD_API_KEY');
if (!$secret) {
    $secrets = json_decode((string) @file_get_contents('./data/secrets.json'), true);
    $secret = $secrets['apiKey'] ?? null;
}

// 1. Only Herald may call: the signature is an HMAC of "<timestamp>.<body>", and an old timestamp is a replay.
$body = (string) file_get_contents('php://input');
$timestamp = $_SERVER['HTTP_X_HERALD_TIMESTAMP'] ?? '';
$signature = $_SERVER['HTTP_X_HERALD_SIGNATURE'] ?? '';
$expected = 'sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, (string) $secret);
if (!$secret || !hash_equals($expected, $signature) || abs(time() - (int) $timestamp) > 300) {
    http_response_code(401);
    exit;
}

// 2. The event: "session" is the connection id, Swoole's $request->fd / $frame->fd / $fd.
$event = json_decode($body, true);
$fd = $event['session'];
switch ($event['type']) {
    case 'open': // $server->on('open', function ($server, $request) { ... })
        error_log("新的连接已建立,客户端ID:" . $fd);
        break;
    case 'message': // $server->on('message', function ($server, $frame) { ... })
        $data = empty($event['binary']) ? $event['data'] : base64_decode($event['data']);
        error_log("收到来自客户端ID为:" . $fd . " 的消息:" . $data);
        // $server->push($frame->fd, "已收到你的消息:" . $frame->data): the reply body is that push.
        echo "已收到你的消息:" . $data;
        break;
    case 'close': // $server->on('close', function ($ser, $fd) { ... })
        error_log("连接已关闭,客户端ID:" . $fd);
        break;
}
