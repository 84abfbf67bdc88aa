//! The server API beside publishing (docs/PROTOCOL.md, "Server API"): the native methods behind
//! `Push::Channel#info`, `#presence` and `#history`, `Push::Producer#channels` and
//! `#disconnect`, and the channel check of `Push::Channel.new`.
//!
//! Each call is sdk-core's (`push_core::Producer::channel_info`, ...), which checks its input
//! before any I/O; this file only turns Ruby arguments into sdk-core's inputs (what sdk-core
//! cannot express, such as `last:` with `after:`, is refused here with the kind sdk-core would
//! use) and its answers into Hashes of plain values, which `lib/push/api.rb` makes into frozen
//! Structs (ids as Strings, times as Time). A call waits like a publish: the GVL is released and
//! Ctrl-C interrupts it (nogvl.rs).

use std::future::Future;
use std::time::Duration;

use magnus::{
    function, method, prelude::*, Error, IntoValue, RArray, RHash, RModule, RString, Ruby, Value,
};
use push_core::api::{
    ChannelInfo, ChannelPage, ChannelsQuery, Disconnect, Disconnected, History, HistoryRange,
    Presence,
};
use push_core::{ErrorKind, MessageId};

use crate::errors::{self, text};
use crate::producer::Producer;

fn bad(ruby: &Ruby, message: String) -> Error {
    errors::new(ruby, ErrorKind::BadRequest, message)
}

/// A count the caller gave (`last:`, `limit:`): negative or beyond 32 bits is refused here; the
/// range (`last: 0`, `limit: 1001`) is sdk-core's to check.
fn count(ruby: &Ruby, name: &str, value: Option<magnus::Integer>) -> Result<Option<u32>, Error> {
    value
        .map(|n| {
            n.to_u32()
                .map_err(|_| bad(ruby, format!("{name} is a number of 1 or more, not {n}")))
        })
        .transpose()
}

/// Runs `call` on this process's producer with the GVL released (see nogvl.rs); its error
/// becomes the Ruby exception of its kind.
fn run<T, Fut>(
    ruby: &Ruby,
    rb_self: &Producer,
    call: impl FnOnce(push_core::Producer) -> Fut,
) -> Result<T, Error>
where
    Fut: Future<Output = push_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let producer = rb_self.get(ruby)?;
    let (handle, core) = errors::native(ruby, || producer.async_parts())?;
    crate::nogvl::run(ruby, &handle, call(core))?.map_err(|e| errors::to_ruby(ruby, &e))
}

fn hash(ruby: &Ruby, fields: &[(&str, Value)]) -> Result<RHash, Error> {
    let h = ruby.hash_new();
    for (name, value) in fields {
        h.aset(ruby.to_symbol(name), *value)?;
    }
    Ok(h)
}

fn id(ruby: &Ruby, id: MessageId) -> Value {
    ruby.str_new(&id.to_string()).as_value()
}

fn info_hash(ruby: &Ruby, info: ChannelInfo) -> Result<RHash, Error> {
    hash(
        ruby,
        &[
            ("channel", ruby.str_new(&info.channel).as_value()),
            ("connections", info.connections.into_value_with(ruby)),
            ("consumers", info.consumers.into_value_with(ruby)),
            (
                "last_id",
                info.last_id.map(|i| id(ruby, i)).into_value_with(ruby),
            ),
            ("history", info.history.into_value_with(ruby)),
            ("nodes", info.nodes.into_value_with(ruby)),
            ("as_of", info.as_of.into_value_with(ruby)),
        ],
    )
}

/// A member's info stays JSON text here: `lib/push/api.rb` parses it (JSON.parse), so it comes
/// out as the Hash any JSON reader in Ruby would give.
fn presence_hash(ruby: &Ruby, presence: Presence) -> Result<RHash, Error> {
    let members = ruby.ary_new_capa(presence.members.len());
    for m in presence.members {
        members.push(hash(
            ruby,
            &[
                ("consumer", ruby.str_new(&m.consumer).as_value()),
                (
                    "info",
                    m.info
                        .map(|i| ruby.str_new(&i.to_string()))
                        .into_value_with(ruby),
                ),
            ],
        )?)?;
    }
    hash(
        ruby,
        &[
            ("channel", ruby.str_new(&presence.channel).as_value()),
            ("members", members.as_value()),
            ("count", presence.count.into_value_with(ruby)),
            ("nodes", presence.nodes.into_value_with(ruby)),
            ("as_of", presence.as_of.into_value_with(ruby)),
        ],
    )
}

fn page_hash(ruby: &Ruby, page: ChannelPage) -> Result<RHash, Error> {
    let channels = ruby.ary_new_capa(page.channels.len());
    for info in page.channels {
        channels.push(info_hash(ruby, info)?)?;
    }
    hash(
        ruby,
        &[
            ("channels", channels.as_value()),
            ("next", page.next.into_value_with(ruby)),
            ("nodes", page.nodes.into_value_with(ruby)),
            ("as_of", page.as_of.into_value_with(ruby)),
        ],
    )
}

fn strings(ruby: &Ruby, items: &[String]) -> Result<RArray, Error> {
    let array = ruby.ary_new_capa(items.len());
    for item in items {
        array.push(ruby.str_new(item))?;
    }
    Ok(array)
}

fn history_hash(ruby: &Ruby, history: History) -> Result<RHash, Error> {
    let messages = ruby.ary_new_capa(history.messages.len());
    for m in history.messages {
        messages.push(hash(
            ruby,
            &[
                ("id", id(ruby, m.id)),
                ("channel", ruby.str_new(&m.channel).as_value()),
                ("channels", strings(ruby, &m.channels)?.as_value()),
                // BINARY here; lib/push/api.rb gives it the encoding its content type names.
                ("data", ruby.str_from_slice(&m.data).as_value()),
                ("content_type", ruby.str_new(&m.content_type).as_value()),
                ("event", m.event.as_deref().map(|e| ruby.str_new(e)).into_value_with(ruby)),
                ("time", m.time.into_value_with(ruby)),
            ],
        )?)?;
    }
    let gaps = ruby.ary_new_capa(history.gaps.len());
    for g in history.gaps {
        gaps.push(hash(
            ruby,
            &[
                ("channel", ruby.str_new(&g.channel).as_value()),
                ("from", id(ruby, g.from)),
                ("to", id(ruby, g.to)),
            ],
        )?)?;
    }
    // sdk-core's ZERO: the server named no cursor (the channel holds nothing).
    let last_id = (history.last_id != MessageId::ZERO).then(|| id(ruby, history.last_id));
    hash(
        ruby,
        &[
            ("messages", messages.as_value()),
            ("gaps", gaps.as_value()),
            ("last_id", last_id.into_value_with(ruby)),
            ("more", history.more.into_value_with(ruby)),
        ],
    )
}

fn disconnected_hash(ruby: &Ruby, d: Disconnected) -> Result<RHash, Error> {
    hash(
        ruby,
        &[
            ("consumer", ruby.str_new(&d.consumer).as_value()),
            ("channel", d.channel.into_value_with(ruby)),
            ("disconnected", d.disconnected.into_value_with(ruby)),
            ("ban_until", d.ban_until.into_value_with(ruby)),
        ],
    )
}

/// `Push::Channel._parse(name)`: the name checked by sdk-core (`InvalidChannelError`), so a
/// bad one fails where the channel is made.
fn parse_channel(ruby: &Ruby, name: RString) -> Result<RString, Error> {
    let name = text(ruby, name, "channel", ErrorKind::InvalidChannel)?;
    let channel = errors::native(ruby, || {
        push_core::Channel::parse(&name).map_err(push_core::Error::from)
    })?;
    Ok(ruby.str_new(channel.as_str()))
}

/// `_channel_info(channel)`.
fn channel_info(ruby: &Ruby, rb_self: &Producer, channel: RString) -> Result<RHash, Error> {
    let channel = text(ruby, channel, "channel", ErrorKind::InvalidChannel)?;
    let info = run(
        ruby,
        rb_self,
        |p| async move { p.channel_info(&channel).await },
    )?;
    info_hash(ruby, info)
}

/// `_presence(channel)`.
fn presence(ruby: &Ruby, rb_self: &Producer, channel: RString) -> Result<RHash, Error> {
    let channel = text(ruby, channel, "channel", ErrorKind::InvalidChannel)?;
    let presence = run(ruby, rb_self, |p| async move { p.presence(&channel).await })?;
    presence_hash(ruby, presence)
}

/// `_channels(prefix, after, limit)`, each may be nil.
fn channels(
    ruby: &Ruby,
    rb_self: &Producer,
    prefix: Option<RString>,
    after: Option<RString>,
    limit: Option<magnus::Integer>,
) -> Result<RHash, Error> {
    let mut query = ChannelsQuery::new();
    if let Some(prefix) = prefix {
        query = query.prefix(text(ruby, prefix, "prefix", ErrorKind::BadRequest)?);
    }
    if let Some(after) = after {
        query = query.after(text(ruby, after, "after", ErrorKind::InvalidChannel)?);
    }
    if let Some(limit) = count(ruby, "limit", limit)? {
        query = query.limit(limit);
    }
    let page = run(ruby, rb_self, |p| async move { p.channels(query).await })?;
    page_hash(ruby, page)
}

/// `_history(channel, last, after, limit)`: `last:`, or `after:` with an optional `limit:`, or
/// neither (everything held in memory). `after` is a String (lib/push/api.rb turns an Integer
/// into one).
fn history(
    ruby: &Ruby,
    rb_self: &Producer,
    channel: RString,
    last: Option<magnus::Integer>,
    after: Option<RString>,
    limit: Option<magnus::Integer>,
) -> Result<RHash, Error> {
    let channel = text(ruby, channel, "channel", ErrorKind::InvalidChannel)?;
    let after = match after {
        None => None,
        Some(after) => Some(
            text(ruby, after, "after", ErrorKind::InvalidCursor)?
                .parse::<MessageId>()
                .map_err(|e| errors::new(ruby, ErrorKind::InvalidCursor, e.to_string()))?,
        ),
    };
    let range = HistoryRange::from_options(count(ruby, "last", last)?, after, count(ruby, "limit", limit)?)
        .map_err(|e| errors::to_ruby(ruby, &e))?;
    let history = run(ruby, rb_self, |p| async move {
        p.history(&channel, range).await
    })?;
    history_hash(ruby, history)
}

/// `_disconnect(consumer, channel, reason, ban)`: `ban` in seconds (a Float, lib/push/api.rb
/// converts), rounded up to whole seconds by sdk-core.
fn disconnect(
    ruby: &Ruby,
    rb_self: &Producer,
    consumer: RString,
    channel: Option<RString>,
    reason: Option<RString>,
    ban: Option<f64>,
) -> Result<RHash, Error> {
    let mut request = Disconnect::new(text(ruby, consumer, "consumer", ErrorKind::BadRequest)?);
    if let Some(channel) = channel {
        request = request.channel(text(ruby, channel, "channel", ErrorKind::InvalidChannel)?);
    }
    if let Some(reason) = reason {
        request = request.reason(text(ruby, reason, "reason", ErrorKind::BadRequest)?);
    }
    if let Some(seconds) = ban {
        // The upper bound (a day) is sdk-core's to check.
        let ban = Duration::try_from_secs_f64(seconds)
            .map_err(|_| bad(ruby, format!("a ban is 0 to 86400 seconds, not {seconds}")))?;
        request = request.ban(ban);
    }
    let done = run(
        ruby,
        rb_self,
        |p| async move { p.disconnect(request).await },
    )?;
    disconnected_hash(ruby, done)
}

pub fn init(ruby: &Ruby, push: RModule) -> Result<(), Error> {
    let channel = push.define_class("Channel", ruby.class_object())?;
    channel.define_singleton_method("_parse", function!(parse_channel, 1))?;
    let _: Value = channel.funcall("private_class_method", (ruby.to_symbol("_parse"),))?;

    let producer = push.define_class("Producer", ruby.class_object())?;
    producer.define_private_method("_channel_info", method!(channel_info, 1))?;
    producer.define_private_method("_presence", method!(presence, 1))?;
    producer.define_private_method("_channels", method!(channels, 3))?;
    producer.define_private_method("_history", method!(history, 4))?;
    producer.define_private_method("_disconnect", method!(disconnect, 4))?;
    Ok(())
}
