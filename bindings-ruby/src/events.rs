//! `Push.verify_events`' native half: the server's events (`--events-url`, docs/PRESENCE.md)
//! verified by sdk-core (`push_core::webhook::verify`), whose answers become Hashes of plain
//! values that `lib/push/events.rb` makes into frozen `Push::Event` Structs.
//!
//! The signature check, the timestamp tolerance and the body's shape are sdk-core's, the same
//! in every SDK; this file only converts arguments and picks the secret.

use std::time::{SystemTime, UNIX_EPOCH};

use magnus::{function, prelude::*, Error, Integer, IntoValue, RArray, RModule, RString, Ruby};
use push_core::webhook::{self, SIGNATURE_HEADER};
use push_core::ErrorKind;

use crate::errors::{self, text};

/// `Push._verify_events(body, signature, secret, tolerance)`: `signature` (the header) and
/// `secret` may be nil; without a secret, sdk-core's `PUSH_EVENTS_SECRET`, then `PUSH_SECRET`.
fn verify(
    ruby: &Ruby,
    body: RString,
    signature: Option<RString>,
    secret: Option<RString>,
    tolerance: Integer,
) -> Result<RArray, Error> {
    // A request without the header is as unsigned as one with a wrong signature.
    let Some(signature) = signature else {
        return Err(errors::new(
            ruby,
            ErrorKind::Unauthorized,
            format!("the events request has no {SIGNATURE_HEADER} header: it is not from the server"),
        ));
    };
    let signature = text(ruby, signature, SIGNATURE_HEADER, ErrorKind::Unauthorized)?;
    let tolerance = tolerance.to_u64().map_err(|_| {
        errors::new(
            ruby,
            ErrorKind::InvalidConfig,
            format!("tolerance must be a number of seconds, 0 or more, not {tolerance}"),
        )
    })?;
    let secret = match secret {
        // SAFETY: the slice is copied at once, while no Ruby code runs.
        Some(secret) => unsafe { secret.as_slice() }.to_vec(),
        None => errors::native(ruby, webhook::secret_from_env)?,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // SAFETY: the body's bytes are read before any Ruby code can run.
    let batch = errors::native(ruby, || {
        webhook::verify(&secret, unsafe { body.as_slice() }, &signature, now, tolerance)
    })?;
    let events = ruby.ary_new_capa(batch.events.len());
    for e in batch.events {
        let h = ruby.hash_new();
        h.aset(ruby.to_symbol("id"), ruby.str_new(&e.id))?;
        h.aset(ruby.to_symbol("name"), ruby.str_new(&e.name))?;
        h.aset(ruby.to_symbol("channel"), e.channel)?;
        h.aset(ruby.to_symbol("consumer"), e.consumer)?;
        // JSON text; lib/push/events.rb parses it as the member info of a presence read is.
        h.aset(ruby.to_symbol("info"), e.info.map(|i| i.to_string()))?;
        h.aset(
            ruby.to_symbol("message_id"),
            e.message_id.map(|id| id.to_string()),
        )?;
        h.aset(ruby.to_symbol("time"), e.time_ms.into_value_with(ruby))?;
        events.push(h)?;
    }
    Ok(events)
}

pub fn init(ruby: &Ruby, push: RModule) -> Result<(), Error> {
    push.define_singleton_method("_verify_events", function!(verify, 4))?;
    // Only Push.verify_events (lib/push/events.rb) calls it.
    let _: magnus::Value = push.funcall("private_class_method", (ruby.to_symbol("_verify_events"),))?;
    Ok(())
}
