//! `Push::Token`: subscriber tokens, signed by sdk-core (`push_core::binding::TokenRequest`).
//!
//! `lib/push/token.rb` holds the Ruby-facing part (`Push::Token.sign` with keyword arguments,
//! docs); this file converts its arguments and makes one sdk-core call, which also applies the
//! `PUSH_SECRET` fallback and the default expiry. The format, the HMAC and the checks of the
//! secret, channel, consumer id and expiry are all sdk-core's, so a Ruby-minted token is the
//! same string as one from any other SDK or from `push-server token`.

use magnus::{function, prelude::*, Error, Integer, RModule, RString, Ruby};
use push_core::binding::TokenRequest;
use push_core::ErrorKind;

use crate::errors;

/// `Push::Token._sign(secret, channel, consumer, expires_at, expires_in, info)`, called by
/// `Push::Token.sign`: each but `channel` may be nil; `info` is compact JSON text (JSON.generate
/// of the caller's Hash), checked by sdk-core.
fn sign(
    ruby: &Ruby,
    secret: Option<RString>,
    channel: RString,
    consumer: Option<RString>,
    expires_at: Option<Integer>,
    expires_in: Option<Integer>,
    info: Option<RString>,
) -> Result<RString, Error> {
    let request = TokenRequest {
        // SAFETY: the slice is copied at once, while no Ruby code runs.
        secret: secret.map(|s| unsafe { s.as_slice() }.to_vec()),
        channel: utf8(ruby, channel, "channel", ErrorKind::InvalidChannel)?,
        consumer: consumer
            .map(|c| utf8(ruby, c, "consumer id", ErrorKind::InvalidConfig))
            .transpose()?,
        expires_at: expires_at.map(|at| seconds(ruby, at, "expires_at")).transpose()?,
        expires_in: expires_in.map(|s| seconds(ruby, s, "expires_in")).transpose()?,
        info: info
            .map(|i| utf8(ruby, i, "info", ErrorKind::InvalidConfig))
            .transpose()?,
    };
    let token = errors::native(ruby, || request.sign())?;
    Ok(ruby.str_new(&token))
}

/// A Ruby string's bytes as a Rust String; not UTF-8 raises the class of `kind`.
fn utf8(ruby: &Ruby, s: RString, what: &str, kind: ErrorKind) -> Result<String, Error> {
    // SAFETY: the slice is copied before any Ruby code can run.
    match std::str::from_utf8(unsafe { s.as_slice() }) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => Err(errors::new(
            ruby,
            kind,
            format!("the token's {what} {} is not valid UTF-8", s.inspect()),
        )),
    }
}

/// Whole seconds as sdk-core takes them (it refuses negative ones); an Integer beyond 64 bits
/// is refused here, with the same kind.
fn seconds(ruby: &Ruby, value: Integer, name: &str) -> Result<i64, Error> {
    value.to_i64().map_err(|_| {
        errors::new(
            ruby,
            ErrorKind::InvalidConfig,
            format!("{name} must be a number of seconds, 0 or more, not {value}"),
        )
    })
}

pub fn init(ruby: &Ruby, push: RModule) -> Result<(), Error> {
    let module = push.define_module("Token")?;
    module.define_singleton_method("_sign", function!(sign, 6))?;
    // Only Push::Token.sign (lib/push/token.rb) calls it.
    let _: magnus::Value = module.funcall("private_class_method", (ruby.to_symbol("_sign"),))?;
    Ok(())
}
