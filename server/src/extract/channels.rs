//! Channels of a subscription: the request path, or repeated `channel` parameters on the
//! multiplexing endpoint `/_push/subscribe`.

use push_core::{Channel, ErrorKind};

use super::params::Params;
use crate::error::ApiError;

pub const PARAM: &str = "channel";

/// The channel named by a request path such as `/greetings` (percent-escapes decoded).
pub fn from_path(path: &str) -> Result<Channel, ApiError> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| ApiError::new(ErrorKind::InvalidChannel, "the channel name is not valid UTF-8"))?;
    Ok(Channel::parse(&decoded)?)
}

/// The channels named by `channel=` (repeatable) and `channels=` (comma-separated), in order,
/// duplicates dropped.
pub fn list(params: &Params) -> Result<Vec<Channel>, ApiError> {
    let names = params.all(PARAM).chain(params.all("channels").flat_map(|v| v.split(',')));
    let mut channels: Vec<Channel> = Vec::new();
    for name in names.filter(|n| !n.is_empty()) {
        let channel = Channel::parse(name)?;
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    Ok(channels)
}

/// The channels of a multiplexed subscription: `channel=/a&channel=/b` (or `channels=/a,/b`).
pub fn from_params(params: &Params, max: usize) -> Result<Vec<Channel>, ApiError> {
    let channels = list(params)?;
    if channels.is_empty() {
        return Err(ApiError::new(ErrorKind::BadRequest, "name at least one channel: ?channel=/a&channel=/b"));
    }
    if channels.len() > max {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            format!("{} channels requested; one connection may subscribe to at most {max}", channels.len()),
        ));
    }
    Ok(channels)
}
