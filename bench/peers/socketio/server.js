// socket.io peer for push-bench (bench/run.sh starts it).
//
//   PORT=4002 node server.js
//
// Subscribers connect with engine.io v4 over WebSocket (/socket.io/?EIO=4&transport=websocket),
// send the socket.io CONNECT packet, then emit "join" with a room name; the server answers with
// a "joined" event once the socket is in the room. A publisher POSTs the raw payload to
// /publish/<room>; the server emits it to the room as a "msg" event and answers 200 with
// {"room":..,"n":<count>}.
'use strict';

const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.env.PORT || 4002);
const host = process.env.HOST || '127.0.0.1';
const maxBody = 1 << 20;
let published = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/publish/')) {
    const room = decodeURIComponent(req.url.slice('/publish/'.length));
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > maxBody) { res.writeHead(413).end(); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      const body = Buffer.concat(chunks).toString('utf8');
      io.to(room).emit('msg', body);
      published += 1;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ room, n: published }));
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    return;
  }
  // socket.io handles /socket.io/ itself; anything else is 404.
  if (!req.url.startsWith('/socket.io/')) res.writeHead(404).end();
});

const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: maxBody,
});

io.on('connection', (socket) => {
  socket.on('join', (room) => {
    if (typeof room !== 'string') return;
    socket.join(room);
    socket.emit('joined', room);
  });
});

server.listen(port, host, () => {
  console.error(`socket.io ${require('socket.io/package.json').version} peer on http://${host}:${port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { io.close(); server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); });
}
