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
 * See README.md beside this file for the whole behaviour.
 */
(function (global) {
  'use strict';

  var VERSION = '0.1.0';
  var TRANSPORTS = ['sse', 'websocket', 'longpoll'];

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
        if (!opened) { opened = true; self._opened(gen); }
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
      es = new EventSource(this._endpoint(tokens).toString(), { withCredentials: !!this.options.withCredentials });
    } catch (e) {
      this._failed(gen, PushError('cannot open an event stream: ' + e.message, 0, null), false, false);
      return;
    }
    this._es = es;
    es.onopen = function () { opened = true; self._opened(gen); };
    es.addEventListener('message', function (e) { self._frame(gen, JSON.parse(e.data)); });
    es.addEventListener('gap', function (e) { self._frame(gen, JSON.parse(e.data)); });
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
    var u = this._endpoint(tokens);
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
