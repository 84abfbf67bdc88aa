//! `Push::Producer` and its native methods.
//!
//! `lib/push/producer.rb` holds the Ruby-facing part (`initialize` with keyword arguments,
//! `#publish(data).to(channel)`, docs); this file converts arguments and makes one sdk-core call
//! per method. The wrapped state is an `Arc<BlockingProducer>`, set once by `initialize` and
//! read without a lock (a lock held by another thread at `fork` would stay held in the child);
//! it is cloned out before the GVL is released, so one producer serves many threads, and
//! sdk-core makes a new runtime after `fork`.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use magnus::{
    encoding::{EncodingCapable, RbEncoding},
    function, method,
    prelude::*,
    Error, RArray, RModule, RString, Ruby,
};
use push_core::binding::{self, DefaultProducer};
use push_core::producer::{BlockingProducer, PublishOptions};
use push_core::ErrorKind;

use crate::errors;

/// The producer behind `Push.publish` (unless the app set `Push.producer=`).
static DEFAULT: DefaultProducer<BlockingProducer> = DefaultProducer::new();

#[derive(Default)]
#[magnus::wrap(class = "Push::Producer", free_immediately, size)]
pub struct Producer {
    inner: OnceLock<Arc<BlockingProducer>>,
}

impl Producer {
    /// `_configure(url, publish_key, timeout, ca_file)`, called by `initialize`; each may be nil
    /// (then `PUSH_URL`, `PUSH_PUBLISH_KEY`, 10 s and `PUSH_CA_FILE` apply). sdk-core checks them.
    fn configure(
        ruby: &Ruby,
        rb_self: &Self,
        url: Option<String>,
        publish_key: Option<String>,
        timeout: Option<f64>,
        ca_file: Option<String>,
    ) -> Result<(), Error> {
        let producer = errors::native(ruby, || {
            binding::producer_options(url, publish_key, timeout, ca_file).and_then(BlockingProducer::new)
        })?;
        rb_self.set(ruby, Arc::new(producer))
    }

    fn set(&self, ruby: &Ruby, producer: Arc<BlockingProducer>) -> Result<(), Error> {
        self.inner.set(producer).map_err(|_| {
            errors::new(
                ruby,
                ErrorKind::InvalidConfig,
                "Push::Producer is already initialized".to_owned(),
            )
        })
    }

    /// `Push::Producer._default`: the producer behind `Push.publish` (sdk-core's
    /// `DefaultProducer`: built from `PUSH_URL` and `PUSH_PUBLISH_KEY` on first use, and again
    /// whenever either has changed since), wrapped in a new `Push::Producer`.
    fn default(ruby: &Ruby) -> Result<Producer, Error> {
        let producer = errors::native(ruby, || {
            DEFAULT.get(BlockingProducer::new)
        })?;
        Ok(Producer {
            inner: OnceLock::from(producer),
        })
    }

    /// `Push::Producer._reset_default`: forgets the default producer and closes it; the next
    /// `Push.publish` builds a new one.
    fn reset_default(ruby: &Ruby) -> Result<(), Error> {
        errors::native(ruby, || {
            DEFAULT.reset().inspect(|producer| producer.close());
            Ok(())
        })
    }

    /// `dup` and `clone`: the copy shares the original's connections.
    fn initialize_copy(ruby: &Ruby, rb_self: &Self, other: &Producer) -> Result<(), Error> {
        let producer = other.get(ruby)?;
        rb_self.set(ruby, producer)
    }

    pub(crate) fn get(&self, ruby: &Ruby) -> Result<Arc<BlockingProducer>, Error> {
        self.inner.get().cloned().ok_or_else(|| {
            errors::new(
                ruby,
                ErrorKind::InvalidConfig,
                "Push::Producer is not initialized (allocated without calling initialize)"
                    .to_owned(),
            )
        })
    }

    /// `_publish(channels, data, content_type, idempotency_key, event)`: publishes one message to the
    /// channels (an Array of Strings: one, or several for one message with one id on all) and
    /// returns the id as a String. Without a key sdk-core makes a fresh one per call.
    fn publish(
        ruby: &Ruby,
        rb_self: &Self,
        channels: RArray,
        data: RString,
        content_type: Option<RString>,
        idempotency_key: Option<RString>,
        event: Option<RString>,
    ) -> Result<RString, Error> {
        let producer = rb_self.get(ruby)?;
        // Copy everything out of Ruby objects while the GVL is held.
        let mut names = Vec::with_capacity(channels.len());
        for i in 0..channels.len() {
            let name: RString = channels.entry(i as isize)?;
            names.push(crate::errors::text(ruby, name, "channel", ErrorKind::InvalidChannel)?);
        }
        let content_type = match content_type {
            Some(ct) => Some(ct.to_string()?),
            None => implied_content_type(ruby, data),
        };
        // A key that is not UTF-8 is not visible ASCII either: sdk-core refuses it (BadRequest).
        let idempotency_key =
            idempotency_key.map(|k| String::from_utf8_lossy(unsafe { k.as_slice() }).into_owned());
        // A name that is not UTF-8 is not a name either: sdk-core refuses it (BadRequest).
        let event = event.map(|e| String::from_utf8_lossy(unsafe { e.as_slice() }).into_owned());
        let payload = Bytes::copy_from_slice(unsafe { data.as_slice() });
        let options = PublishOptions { content_type, idempotency_key, event };

        let (handle, core) = errors::native(ruby, || producer.async_parts())?;
        let sent = crate::nogvl::run(ruby, &handle, async move {
            core.send_with(names, payload, options).await
        })?;
        let id = sent.map_err(|e| errors::to_ruby(ruby, &e))?;
        Ok(ruby.str_new(&id.to_string()))
    }

    fn url(ruby: &Ruby, rb_self: &Self) -> Result<String, Error> {
        Ok(rb_self.get(ruby)?.url().to_owned())
    }

    /// Closes connections; the next publish reconnects.
    fn close(ruby: &Ruby, rb_self: &Self) -> Result<(), Error> {
        errors::native(ruby, || {
            rb_self.inner.get().inspect(|producer| producer.close());
            Ok(())
        })
    }
}

/// The content type a String's encoding implies, when the caller gave none:
/// BINARY (ASCII-8BIT) is `application/octet-stream`; UTF-8 and US-ASCII are left to sdk-core
/// (text if the bytes are valid UTF-8, else octet-stream); any other encoding is text in that
/// charset. The bytes are sent unchanged in every case.
fn implied_content_type(ruby: &Ruby, data: RString) -> Option<String> {
    let index = data.enc_get();
    if index == ruby.ascii8bit_encindex() {
        Some("application/octet-stream".to_owned())
    } else if index == ruby.utf8_encindex() || index == ruby.usascii_encindex() {
        None
    } else {
        Some(format!(
            "text/plain; charset={}",
            RbEncoding::from(index).name()
        ))
    }
}

pub fn init(ruby: &Ruby, push: RModule) -> Result<(), Error> {
    let class = push.define_class("Producer", ruby.class_object())?;
    class.define_alloc_func::<Producer>();
    class.define_private_method("_configure", method!(Producer::configure, 4))?;
    class.define_singleton_method("_default", function!(Producer::default, 0))?;
    class.define_singleton_method("_reset_default", function!(Producer::reset_default, 0))?;
    // Only Push.producer and Push.close_default (lib/push.rb) call them.
    let _: magnus::Value = class.funcall(
        "private_class_method",
        (ruby.to_symbol("_default"), ruby.to_symbol("_reset_default")),
    )?;
    class.define_private_method("_publish", method!(Producer::publish, 5))?;
    class.define_method("initialize_copy", method!(Producer::initialize_copy, 1))?;
    class.define_method("url", method!(Producer::url, 0))?;
    class.define_method("close", method!(Producer::close, 0))?;
    Ok(())
}
