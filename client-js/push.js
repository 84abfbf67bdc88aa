/*! push.js: the browser client of push-rs. No dependencies; one file.
 *
 *   const sub = Push.subscribe('/greetings', {
 *     onMessage(msg) { console.log(msg.channel, msg.id, msg.data) },
 *     onGap(gap) { console.warn('lost', gap.channel, gap.from, gap.to) },
 *     onStatus(s) { console.log(s.state, s.transport) },
 *   });
 *   sub.close();
 *
 * Every subscription is one connection to the server's multiplexing endpoint
 * (`/_push/subscribe?channel=/a&channel=/b`), whatever the transport: the frames name their
 * channel and one cursor (the id of the last message or gap seen) covers all channels, since
 * ids are global. The client owns that cursor: it reconnects itself, with exponential backoff
 * and jitter, from `after=<cursor>`, and drops anything at or below it, so the application never
 * sees a message twice and never misses one silently (lost history arrives as a gap).
 *
 * Transports: Server-Sent Events (default), WebSocket, and long-poll (JSON batches over fetch),
 * which is the fallback when a streaming transport cannot connect although the server answers.
 *
 * Presence (`presence: true`): the members of presence channels, `sub.presence()`, and
 * `sub.on('presence' | 'join' | 'leave', fn)`. Streams get them as id-less events; long-poll reads
 * `/_push/presence/<channel>` every `presenceInterval` ms and turns the differences into the same
 * events.
 * See README.md beside this file for the whole behaviour.
 */
(function (global) {
  'use strict';

  var VERSION = '0.1.0';
  var TRANSPORTS = ['sse', 'websocket', 'longpoll'];
  var PRESENCE_EVENTS = ['presence', 'join', 'leave'];

  // Where this script came from: served by a push server at /_push/client.js, that server is the
  // default `url`; otherwise the page's own origin is.
  var SCRIPT_SRC = (typeof document !== 'undefined' && document.currentScript && document.currentScript.src) || '';

  function defaultUrl() {
    var marker = '/_push/client.js';
    if (SCRIPT_SRC) {
      var u = new URL(SCRIPT_SRC);
      var at = u.pathname.lastIndexOf(marker);
      if (at >= 0 && at + marker.length === u.pathname.length) return u.origin + u.pathname.slice(0, at);
    }
    return global.location ? global.location.origin : 'http://127.0.0.1:4000';
  }

  /** An error answer of the server: HTTP status, the stable `Push-Error` code, the reason. */
  function PushError(message, status, code) {
    var e = new Error(message);
    e.name = 'PushError';
    e.status = status || 0;
    e.code = code || (status ? 'HTTP_' + status : 'CONNECTION_FAILED');
    return e;
  }

  // The server API disconnected this consumer: final, whatever the token (see PROTOCOL.md).
  var DISCONNECTED_PREFIX = 'disconnected by the server: ';
  function disconnectedError(reason) {
    var e = PushError(DISCONNECTED_PREFIX + reason, 403, 'DISCONNECTED');
    e.reason = reason;
    return e;
  }

  function toCursor(value) {
    if (value === undefined || value === null || value === '') return null;
    var s = String(value).trim();
    if (!/^[0-9]+$/.test(s)) throw new TypeError('Push: `after` must be a message id (decimal digits), got ' + JSON.stringify(value));
    return BigInt(s);
  }

  // A frame's position in the log: a message's id, or the end of a gap.
  function cursorOf(frame) {
    return BigInt(frame.type === 'gap' ? frame.to : frame.id);
  }

  function decodeBase64(text) {
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function report(err) {
    // An application handler threw: show it, keep the connection going.
    if (typeof global.reportError === 'function') global.reportError(err);
    else if (global.console) global.console.error(err);
  }

  function isOffline() {
    return typeof navigator !== 'undefined' && navigator.onLine === false;
  }

  function transportList(option) {
    var list;
    if (option === undefined || option === null || option === 'auto') {
      list = typeof EventSource === 'function' ? ['sse', 'longpoll'] : ['longpoll'];
    } else {
      list = Array.isArray(option) ? option.slice() : [option];
    }
    list.forEach(function (t) {
      if (TRANSPORTS.indexOf(t) < 0) throw new TypeError('Push: unknown transport ' + JSON.stringify(t) + ' (use ' + TRANSPORTS.join(', ') + ')');
    });
    if (!list.length) throw new TypeError('Push: no transport given');
    return list;
  }

  /**
   * One subscription: a set of channels over one connection, one cursor.
   * `channels` is a channel name, an array of them, or an object mapping each name to its own
   * message handler.
   */
  function Subscription(channels, options) {
    options = options || {};
    this.options = options;
    this.handlers = {};
    if (typeof channels === 'string') channels = [channels];
    if (Array.isArray(channels)) {
      this.channels = channels.slice();
    } else if (channels && typeof channels === 'object') {
      this.channels = Object.keys(channels);
      this.handlers = channels;
    } else {
      throw new TypeError('Push.subscribe: give a channel, an array of channels or {channel: handler}');
    }
    if (!this.channels.length) throw new TypeError('Push.subscribe: no channel given');
    this.channels.forEach(function (c) {
      if (typeof c !== 'string' || c.charAt(0) !== '/') throw new TypeError('Push.subscribe: a channel is a path such as "/greetings", got ' + JSON.stringify(c));
    });
    this.url = String(options.url || defaultUrl()).replace(/\/+$/, '');
    this.transports = transportList(options.transport);
    this.minDelay = options.reconnectDelay !== undefined ? options.reconnectDelay : 1000;
    this.maxDelay = options.maxReconnectDelay !== undefined ? options.maxReconnectDelay : 30000;
    this.presenceInterval = options.presenceInterval !== undefined ? options.presenceInterval : 5000;
    if (!(this.presenceInterval > 0)) throw new TypeError('Push.subscribe: `presenceInterval` is a number of milliseconds above 0');

    this.state = 'connecting';
    this._cursor = toCursor(options.after);
    this._index = 0; // which of this.transports is in use
    this._attempt = 0; // failures since the last successful open
    this._gen = 0; // bumped on every (re)connect and close: stale callbacks compare and stop
    this._closed = false;
    this._timer = null;
    this._es = null;
    this._ws = null;
    this._abort = null;
    this._listeners = {}; // event name -> handlers (sub.on)
    this._presence = {}; // channel -> {members: Map(consumer -> info), count, last}
    this._noPresence = {}; // channels the presence endpoint refused (not presence channels)
    this._presenceTimer = null;
    this._presenceAbort = null;

    var self = this;
    this._onOnline = function () {
      if (self._closed) return;
      if (self.state === 'offline' || self.state === 'reconnecting') {
        self._attempt = 0;
        self._connect();
      }
    };
    this._onOffline = function () {
      // A long-poll would only fail; stop asking until the browser is online again.
      if (self._closed || self.transport !== 'longpoll') return;
      self._teardown();
      self._gen++;
      self._setState('offline');
    };
    if (typeof global.addEventListener === 'function') {
      global.addEventListener('online', this._onOnline);
      global.addEventListener('offline', this._onOffline);
    }
    // Connect once subscribe() has returned, so that handlers may already use its result.
    Promise.resolve().then(function () { self._connect(); });
  }

  Object.defineProperty(Subscription.prototype, 'lastId', {
    /** The cursor: id of the last message or gap end seen, as a decimal string (null before any). */
    get: function () { return this._cursor === null ? null : this._cursor.toString(); },
  });

  Object.defineProperty(Subscription.prototype, 'transport', {
    /** The transport in use: 'sse', 'websocket' or 'longpoll'. */
    get: function () { return this.transports[this._index]; },
  });

  /** Ends the subscription for good: closes the connection, stops reconnecting. */
  Subscription.prototype.close = function () {
    if (this._closed) return;
    this._closed = true;
    this._gen++;
    this._teardown();
    clearTimeout(this._timer);
    if (typeof global.removeEventListener === 'function') {
      global.removeEventListener('online', this._onOnline);
      global.removeEventListener('offline', this._onOffline);
    }
    this._setState('closed');
  };

  /**
   * Adds a handler: 'presence' ({channel, members, count}: a whole member list, on every
   * (re)connect), 'join' and 'leave' ({channel, consumer, info}). Needs `presence: true`.
   */
  Subscription.prototype.on = function (name, fn) {
    this._presenceEvent(name);
    if (typeof fn !== 'function') throw new TypeError('Push: sub.on(' + JSON.stringify(name) + ', fn) needs a function');
    (this._listeners[name] = this._listeners[name] || []).push(fn);
    return this;
  };

  /** Removes a handler added with `on`. */
  Subscription.prototype.off = function (name, fn) {
    var list = this._listeners[name];
    if (list) {
      var at = list.indexOf(fn);
      if (at >= 0) list.splice(at, 1);
    }
    return this;
  };

  /**
   * The current members of `channel` (optional with one channel): [{consumer, info}] in consumer
   * id order, `info` null when the member's token has none. Empty until the first list came.
   */
  Subscription.prototype.presence = function (channel) {
    var room = this._presence[this._presenceChannel(channel)];
    var out = [];
    if (room) room.members.forEach(function (info, consumer) { out.push({ consumer: consumer, info: info }); });
    return out.sort(function (a, b) { return a.consumer < b.consumer ? -1 : a.consumer > b.consumer ? 1 : 0; });
  };

  /** How many members `channel` has: the server lists at most 1000, this counts them all. */
  Subscription.prototype.presenceCount = function (channel) {
    var room = this._presence[this._presenceChannel(channel)];
    return room ? room.count : 0;
  };

  Subscription.prototype._presenceEvent = function (name) {
    if (PRESENCE_EVENTS.indexOf(name) < 0) {
      throw new TypeError('Push: sub.on() takes ' + PRESENCE_EVENTS.join(', ') + ', got ' + JSON.stringify(name) + ' (messages, gaps and states are options: onMessage, onGap, onStatus)');
    }
    // Without the option the server sends nothing: say so rather than never call the handler.
    if (!this.options.presence) throw new TypeError('Push: subscribe with { presence: true } to get presence');
  };

  Subscription.prototype._presenceChannel = function (channel) {
    if (!this.options.presence) throw new TypeError('Push: subscribe with { presence: true } to get presence');
    if (channel === undefined) {
      if (this.channels.length !== 1) throw new TypeError('Push: this subscription has several channels: call sub.presence(channel)');
      return this.channels[0];
    }
    if (this.channels.indexOf(channel) < 0) throw new TypeError('Push: ' + JSON.stringify(channel) + ' is not a channel of this subscription');
    return channel;
  };

  Subscription.prototype._emit = function (name, payload) {
    var list = (this._listeners[name] || []).slice();
    for (var i = 0; i < list.length; i++) {
      try { list[i].call(this, payload); } catch (e) { report(e); }
    }
  };

  // Whether `room`'s list says anything about `consumer`: a list cut at 1000 members (the
  // first ones in id order) knows nothing of those after its last one.
  function lists(room, consumer) {
    return room.count <= room.members.size || room.last === null || consumer <= room.last;
  }

  // A whole member list of `channel`: a stream's first event for it (on every connect) or a
  // poll's answer. The first one is the initial state; later ones replace the list and only
  // their differences become joins and leaves, so a reconnect replays nothing.
  Subscription.prototype._presenceList = function (channel, list, count, announce) {
    var fresh = new Map();
    var last = null;
    (list || []).forEach(function (m) {
      var consumer = String(m.consumer);
      fresh.set(consumer, m.info === undefined ? null : m.info);
      if (last === null || consumer > last) last = consumer;
    });
    var room = { members: fresh, count: typeof count === 'number' ? count : fresh.size, last: last };
    var before = this._presence[channel];
    this._presence[channel] = room;
    if (before) {
      var self = this;
      before.members.forEach(function (info, consumer) {
        if (!fresh.has(consumer) && lists(room, consumer)) self._emit('leave', { channel: channel, consumer: consumer, info: info });
      });
      fresh.forEach(function (info, consumer) {
        if (!before.members.has(consumer) && lists(before, consumer)) self._emit('join', { channel: channel, consumer: consumer, info: info });
      });
    }
    // After the joins and leaves, so that an app keeping its own list from joins ends with this one.
    if (announce) this._emit('presence', { channel: channel, members: this.presence(channel), count: room.count });
  };

  // A presence, join or leave event of a stream. It has no id: the cursor stays where it is.
  Subscription.prototype._presenceFrame = function (f) {
    var channel = f.channel;
    if (!this.options.presence || this.channels.indexOf(channel) < 0) return;
    if (f.type === 'presence') {
      this._presenceList(channel, f.members, f.count, true);
      return;
    }
    var room = this._presence[channel];
    if (!room) room = this._presence[channel] = { members: new Map(), count: 0, last: null };
    var consumer = String(f.consumer);
    if (f.type === 'join') {
      var info = f.info === undefined ? null : f.info;
      var had = room.members.has(consumer);
      room.members.set(consumer, info);
      if (had) return; // already listed (a join racing the list): not news
      room.count++;
      this._emit('join', { channel: channel, consumer: consumer, info: info });
    } else if (f.type === 'leave') {
      if (room.members.has(consumer)) {
        var was = room.members.get(consumer);
        room.members.delete(consumer);
        room.count = Math.max(0, room.count - 1);
        this._emit('leave', { channel: channel, consumer: consumer, info: was });
      } else if (room.count > room.members.size) {
        // One of the members past the listed 1000.
        room.count--;
        this._emit('leave', { channel: channel, consumer: consumer, info: f.info === undefined ? null : f.info });
      }
    }
  };

  // Long-poll has no presence events: read each channel's list now and every presenceInterval
  // ms while this connection lives. A channel the endpoint refuses (400: not a presence channel;
  // 404: a server without presence) is not asked again.
  Subscription.prototype._pollPresence = function (gen, tokens) {
    if (!this.options.presence) return;
    var self = this;
    var announced = {};
    (function round() {
      if (gen !== self._gen) return;
      var channels = self.channels.filter(function (c) { return !self._noPresence[c]; });
      if (!channels.length) return;
      var abort = typeof AbortController === 'function' ? new AbortController() : null;
      self._presenceAbort = abort;
      Promise.all(channels.map(function (c) {
        var u = new URL(self.url + '/_push/presence' + c);
        if (self.options.consumer) u.searchParams.set('consumer', String(self.options.consumer));
        tokens.forEach(function (t) { u.searchParams.append('token', String(t)); });
        return fetch(u.toString(), {
          headers: { Accept: 'application/json' },
          cache: 'no-store',
          credentials: self.options.withCredentials ? 'include' : 'same-origin',
          signal: abort ? abort.signal : undefined,
        }).then(function (res) {
          if (res.status === 400 || res.status === 404) { self._noPresence[c] = true; return null; }
          return res.ok ? res.json() : null; // anything else: the next round asks again
        }).then(function (list) {
          if (!list || gen !== self._gen || self._closed) return;
          self._presenceList(c, list.members, list.count, !announced[c]);
          announced[c] = true;
        }, function () { /* network trouble: the long-poll itself reports it */ });
      })).then(function () {
        if (gen === self._gen) self._presenceTimer = setTimeout(round, self.presenceInterval);
      });
    })();
  };

  Subscription.prototype._setState = function (state, extra) {
    this.state = state;
    var info = { state: state, transport: this.transport };
    if (extra) for (var k in extra) info[k] = extra[k];
    if (typeof this.options.onStatus === 'function') {
      try { this.options.onStatus(info); } catch (e) { report(e); }
    }
  };

  Subscription.prototype._teardown = function () {
    if (this._es) { this._es.close(); this._es = null; }
    if (this._ws) {
      var ws = this._ws;
      this._ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch (e) { /* already closing */ }
    }
    if (this._abort) { this._abort.abort(); this._abort = null; }
    clearTimeout(this._presenceTimer);
    if (this._presenceAbort) { this._presenceAbort.abort(); this._presenceAbort = null; }
  };

  // Resolves the `token` option (a string, an array of them, or a function returning either,
  // possibly as a promise; called on every connect so it can mint fresh tokens).
  Subscription.prototype._tokens = function () {
    var t = this.options.token;
    return new Promise(function (resolve) { resolve(typeof t === 'function' ? t() : t); }).then(function (v) {
      if (v === undefined || v === null || v === '') return [];
      return Array.isArray(v) ? v : [v];
    });
  };

  Subscription.prototype._endpoint = function (tokens, extra) {
    var u = new URL(this.url + '/_push/subscribe');
    this.channels.forEach(function (c) { u.searchParams.append('channel', c); });
    if (this._cursor !== null) u.searchParams.set('after', this._cursor.toString());
    if (this.options.consumer) u.searchParams.set('consumer', String(this.options.consumer));
    tokens.forEach(function (t) { u.searchParams.append('token', String(t)); });
    if (extra) for (var k in extra) u.searchParams.set(k, extra[k]);
    return u;
  };

  // Streams ask for presence events; JSON batches cannot carry them (long-poll polls instead).
  Subscription.prototype._streamParams = function () {
    return this.options.presence ? { presence: '1' } : null;
  };

  Subscription.prototype._connect = function () {
    if (this._closed) return;
    clearTimeout(this._timer);
    this._teardown();
    var gen = ++this._gen;
    if (isOffline()) {
      this._setState('offline');
      return;
    }
    this._setState('connecting', { attempt: this._attempt });
    var self = this;
    this._tokens().then(function (tokens) {
      if (gen !== self._gen) return;
      if (self._cursor === null) {
        // Fix the start cursor first ("from now on"): a streaming transport can then resume
        // from it even if it is cut before its first message.
        self._batch(gen, tokens, 0).then(function () {
          if (gen === self._gen) self._connect();
        }, function (err) { self._failed(gen, err, false, true); });
        return;
      }
      var t = self.transport;
      if (t === 'sse') self._openSse(gen, tokens);
      else if (t === 'websocket') self._openWs(gen, tokens);
      else self._poll(gen, tokens);
    }, function (err) { self._failed(gen, err, false, true); });
  };

  Subscription.prototype._opened = function (gen) {
    if (gen !== this._gen) return;
    this._attempt = 0;
    this._setState('open');
  };

  // One frame from any transport, in id order. Drops what the cursor already covers.
  Subscription.prototype._frame = function (gen, f) {
    if (gen !== this._gen || this._closed) return;
    if (f.type === 'presence' || f.type === 'join' || f.type === 'leave') return this._presenceFrame(f);
    if (f.type !== 'message' && f.type !== 'gap') return;
    var at = cursorOf(f);
    if (this._cursor !== null && at <= this._cursor) return;
    this._cursor = at;
    var o = this.options;
    if (f.type === 'gap') {
      if (typeof o.onGap === 'function') {
        try { o.onGap({ channel: f.channel, from: String(f.from), to: String(f.to) }); } catch (e) { report(e); }
      }
      return;
    }
    // A message published to several of this subscription's channels comes once and names them.
    var channels = f.channels || [f.channel];
    var msg = {
      id: String(f.id),
      channel: f.channel,
      channels: channels,
      data: f.encoding === 'base64' ? decodeBase64(f.data) : f.data,
      contentType: f.content_type,
      event: f.event || null,
      time: f.time,
    };
    for (var i = 0; i < channels.length; i++) {
      var own = this.handlers[channels[i]];
      if (typeof own === 'function') {
        try { own(msg); } catch (e) { report(e); }
      }
    }
    if (typeof o.onMessage === 'function') {
      try { o.onMessage(msg); } catch (e) { report(e); }
    }
  };

  // A JSON batch: GET with Accept: application/json. `timeout` in seconds (0 answers at once;
  // null waits up to the server's long-poll timeout). Delivers its frames, advances the cursor.
  Subscription.prototype._batch = function (gen, tokens, timeout) {
    var self = this;
    var extra = timeout === null ? null : { timeout: String(timeout) };
    var abort = typeof AbortController === 'function' ? new AbortController() : null;
    this._abort = abort;
    return fetch(this._endpoint(tokens, extra).toString(), {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      credentials: this.options.withCredentials ? 'include' : 'same-origin',
      signal: abort ? abort.signal : undefined,
    }).then(function (res) {
      if (!res.ok) {
        return res.text().then(function (text) {
          text = text.trim();
          if (res.status === 403 && text.indexOf(DISCONNECTED_PREFIX) === 0) throw disconnectedError(text.slice(DISCONNECTED_PREFIX.length));
          throw PushError(text || 'HTTP ' + res.status, res.status, res.headers.get('Push-Error'));
        });
      }
      return res.json();
    }, function (err) {
      throw PushError('cannot reach ' + self.url + ' (' + (err && err.message) + ')', 0, null);
    }).then(function (batch) {
      if (gen !== self._gen) return;
      var frames = (batch.messages || []).concat(batch.gaps || []);
      frames.sort(function (a, b) {
        var x = cursorOf(a), y = cursorOf(b);
        return x < y ? -1 : x > y ? 1 : 0;
      });
      for (var i = 0; i < frames.length; i++) self._frame(gen, frames[i]);
      if (batch.last_id !== undefined && batch.last_id !== null) {
        var last = BigInt(batch.last_id);
        if (self._cursor === null || last > self._cursor) self._cursor = last;
      }
      return batch;
    });
  };

  Subscription.prototype._poll = function (gen, tokens) {
    var self = this;
    var opened = false;
    (function next() {
      if (gen !== self._gen) return;
      // The first request answers at once, so that 'open' means "the server answers"; the next
      // ones wait for messages up to the server's long-poll timeout.
      var waited = opened;
      var started = Date.now();
      self._batch(gen, tokens, waited ? null : 0).then(function (batch) {
        if (gen !== self._gen) return;
        if (!opened) {
          opened = true;
          self._opened(gen);
          self._pollPresence(gen, tokens);
        }
        var empty = !(batch.messages && batch.messages.length) && !(batch.gaps && batch.gaps.length);
        // An empty answer that did not wait (a server with no long-poll timeout) must not
        // turn into a busy loop.
        if (waited && empty && Date.now() - started < 1000) self._timer = setTimeout(next, 1000);
        else next();
      }, function (err) { self._failed(gen, err, opened, false); });
    })();
  };

  Subscription.prototype._openSse = function (gen, tokens) {
    var self = this;
    var opened = false;
    var es;
    try {
      es = new EventSource(this._endpoint(tokens, this._streamParams()).toString(), { withCredentials: !!this.options.withCredentials });
    } catch (e) {
      this._failed(gen, PushError('cannot open an event stream: ' + e.message, 0, null), false, false);
      return;
    }
    this._es = es;
    es.onopen = function () { opened = true; self._opened(gen); };
    es.addEventListener('message', function (e) { self._frame(gen, JSON.parse(e.data)); });
    es.addEventListener('gap', function (e) { self._frame(gen, JSON.parse(e.data)); });
    PRESENCE_EVENTS.forEach(function (name) {
      es.addEventListener(name, function (e) {
        var f = JSON.parse(e.data);
        f.type = name;
        self._frame(gen, f);
      });
    });
    es.addEventListener('disconnect', function (e) {
      es.close();
      var reason = '';
      try { reason = JSON.parse(e.data).reason; } catch (err) { /* keep it empty */ }
      self._disconnected(gen, reason);
    });
    es.addEventListener('expired', function () {
      es.close();
      self._failed(gen, PushError('the subscription token expired', 401, 'TOKEN_EXPIRED'), true, false);
    });
    // EventSource would reconnect by itself; we close it and reconnect on our own terms
    // (our backoff, our cursor, a fallback when it never connects).
    es.onerror = function () {
      es.close();
      self._failed(gen, PushError('the event stream failed', 0, null), opened, false);
    };
  };

  Subscription.prototype._openWs = function (gen, tokens) {
    var self = this;
    var opened = false;
    var u = this._endpoint(tokens, this._streamParams());
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    var ws;
    try {
      ws = new WebSocket(u.toString());
    } catch (e) {
      this._failed(gen, PushError('cannot open a WebSocket: ' + e.message, 0, null), false, false);
      return;
    }
    this._ws = ws;
    var reason = null; // the server's disconnect frame, before its close 4003
    ws.onmessage = function (e) {
      var f = JSON.parse(e.data);
      if (f.type === 'subscribed') {
        opened = true;
        self._opened(gen);
      } else if (f.type === 'disconnect') {
        reason = f.reason;
      } else {
        self._frame(gen, f);
      }
    };
    ws.onclose = function (e) {
      if (self._ws === ws) self._ws = null;
      if (e.code === 4003) return self._disconnected(gen, reason !== null ? reason : e.reason);
      var err = e.code === 4001
        ? PushError('the subscription token expired', 401, 'TOKEN_EXPIRED')
        : PushError('the WebSocket closed (' + e.code + (e.reason ? ' ' + e.reason : '') + ')', 0, null);
      self._failed(gen, err, opened, false);
    };
  };

  // Whether an error answer is worth retrying: the server or the network may recover, a token
  // function may mint a better token; a malformed request will not get better.
  Subscription.prototype._retryable = function (err) {
    if (err.code === 'DISCONNECTED') return false;
    if (!err.status) return true;
    if (err.status === 408 || err.status === 429 || err.status >= 500) return true;
    if ((err.status === 401 || err.status === 403) && typeof this.options.token === 'function') return true;
    return false;
  };

  // The connection `gen` ended or never came up. `opened` says whether it ever did; `probed`
  // that err already comes from a JSON request (which tells apart "server unreachable",
  // "server refuses" and "this transport does not get through").
  Subscription.prototype._failed = function (gen, err, opened, probed) {
    if (gen !== this._gen || this._closed) return;
    this._teardown();
    var self = this;
    if (!opened && !probed && this.transport !== 'longpoll') {
      var g = ++this._gen;
      this._tokens().then(function (tokens) {
        if (g !== self._gen) return null;
        return self._batch(g, tokens, 0);
      }).then(function (batch) {
        if (g !== self._gen || batch === null) return;
        // The server answers plain requests, so this transport is what fails: use the next.
        if (self._index < self.transports.length - 1) {
          self._index++;
          self._connect();
        } else {
          self._retry(g, err);
        }
      }, function (probeErr) {
        if (g !== self._gen) return;
        if (probeErr.status && !self._retryable(probeErr)) self._fail(probeErr);
        else self._retry(g, probeErr.status ? probeErr : err);
      });
      return;
    }
    if (err.status && !this._retryable(err)) this._fail(err);
    else this._retry(gen, err);
  };

  // The server API ended this consumer's connection: no reconnect; the status says why.
  Subscription.prototype._disconnected = function (gen, reason) {
    if (gen !== this._gen || this._closed) return;
    this._fail(disconnectedError(reason));
  };

  Subscription.prototype._fail = function (err) {
    this._closed = true;
    this._gen++;
    this._teardown();
    if (typeof global.removeEventListener === 'function') {
      global.removeEventListener('online', this._onOnline);
      global.removeEventListener('offline', this._onOffline);
    }
    this._setState('failed', { error: err });
  };

  // Exponential backoff with jitter: the ceiling doubles per failure up to maxReconnectDelay, the
  // delay is drawn between half the ceiling and the ceiling so that clients cut together spread out.
  Subscription.prototype._retry = function (gen, err) {
    if (gen !== this._gen || this._closed) return;
    var ceiling = Math.min(this.maxDelay, this.minDelay * Math.pow(2, this._attempt));
    var delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    this._attempt++;
    if (isOffline()) {
      this._gen++;
      this._setState('offline', { error: err });
      return;
    }
    this._setState('reconnecting', { attempt: this._attempt, delay: delay, error: err });
    var self = this;
    this._timer = setTimeout(function () {
      if (gen === self._gen) self._connect();
    }, delay);
  };

  function subscribe(channels, options) {
    return new Subscription(channels, options);
  }

  var Push = { subscribe: subscribe, Subscription: Subscription, version: VERSION };
  global.Push = Push;
})(typeof globalThis !== 'undefined' ? globalThis : this);
