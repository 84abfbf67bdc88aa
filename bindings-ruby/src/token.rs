//! `Push::Token`: subscriber tokens, signed by sdk-core (`push_core::token`).
//!
//! `lib/push/token.rb` holds the Ruby-facing part (`Push::Token.sign` with keyword arguments,
//! the `PUSH_SECRET` fallback, docs); this file converts its arguments and makes one sdk-core
//! call. The format, the HMAC and the checks of the secret, channel and consumer id are all
//! sdk-core's, so a Ruby-minted token is the same string as one from any other SDK or from
//! `push-server token`.

use magnus::{function, prelude::*, Error, Integer, RModule, RString, Ruby};
use push_core::message::now_millis;
use push_core::token::{self, Claims};
use push_core::ErrorKind;

use crate::errors;

/// `Push::Token._sign(secret, channel, consumer, expires_at, expires_in)`, called by
/// `Push::Token.sign`: `secret` and `consumer` may be nil, `expires_at` (Unix seconds) is used
/// instead of `expires_in` (seconds from now) when it is not nil.
fn sign(
    ruby: &Ruby,
    secret: Option<RString>,
    channel: RString,
    consumer: Option<RString>,
    expires_at: Option<Integer>,
    expires_in: Integer,
) -> Result<RString, Error> {
    // Copy everything out of the Ruby strings before anything else can run.
    // SAFETY: each slice is copied at once, while no Ruby code runs.
    let secret: Vec<u8> = secret.map_or_else(Vec::new, |s| unsafe { s.as_slice() }.to_vec());
    let channel = utf8(ruby, channel, "channel", ErrorKind::InvalidChannel)?;
    let consumer = match consumer {
        Some(c) => Some(utf8(ruby, c, "consumer id", ErrorKind::InvalidConfig)?),
        None => None,
    };
    let expires_at = match expires_at {
        Some(at) => seconds(ruby, at, "expires_at")?,
        None => {
            let from_now = seconds(ruby, expires_in, "expires_in")?;
            (now_millis() / 1000).checked_add(from_now).ok_or_else(|| {
                invalid_config(
                    ruby,
                    format!("expires_in {from_now} is too far in the future"),
                )
            })?
        }
    };
    let claims = Claims {
        channel,
        consumer,
        expires_at,
    };
    let token = token::sign(&secret, &claims).map_err(|e| errors::to_ruby(ruby, &e))?;
    Ok(ruby.str_new(&token))
}

/// A Ruby string's bytes as a Rust String; not UTF-8 raises the class of `kind`.
fn utf8(ruby: &Ruby, s: RString, what: &str, kind: ErrorKind) -> Result<String, Error> {
    // SAFETY: the slice is copied before any Ruby code can run.
    match std::str::from_utf8(unsafe { s.as_slice() }) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => {
            let class = match kind {
                ErrorKind::InvalidChannel => "InvalidChannel",
                _ => "InvalidConfig",
            };
            Err(errors::build(
                ruby,
                class,
                format!("the token's {what} {} is not valid UTF-8", s.inspect()),
                kind.code(),
                None,
            ))
        }
    }
}

/// Whole seconds as sdk-core takes them: 0 or more, within u64.
fn seconds(ruby: &Ruby, value: Integer, name: &str) -> Result<u64, Error> {
    value.to_u64().map_err(|_| {
        invalid_config(
            ruby,
            format!("{name} must be a whole number of seconds, 0 or more, got {value}"),
        )
    })
}

fn invalid_config(ruby: &Ruby, message: String) -> Error {
    errors::build(
        ruby,
        "InvalidConfig",
        message,
        ErrorKind::InvalidConfig.code(),
        None,
    )
}

pub fn init(ruby: &Ruby, push: RModule) -> Result<(), Error> {
    let module = push.define_module("Token")?;
    module.define_singleton_method("_sign", function!(sign, 5))?;
    // Only Push::Token.sign (lib/push/token.rb) calls it.
    let _: magnus::Value = module.funcall("private_class_method", (ruby.to_symbol("_sign"),))?;
    Ok(())
}
