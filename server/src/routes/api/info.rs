//! Channel info (`GET /_push/api/channel/<channel>`) and the active channels
//! (`GET /_push/api/channels`): connections from this node's sessions and the other nodes'
//! reports, history from the broker.

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::Json;
use push_core::broker::ChannelHistory;
use push_core::{Channel, ErrorKind, MessageId};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::params::Params;
use crate::sessions::Occupancy;
use crate::state::AppState;

/// Largest page of a channel listing, and the default.
const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;

#[derive(Serialize)]
pub struct Info {
    channel: Channel,
    connections: u64,
    consumers: u64,
    last_id: Option<MessageId>,
    history: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<u64>,
}

impl Info {
    fn new(channel: Channel, occupancy: Occupancy, history: ChannelHistory) -> Info {
        Info {
            channel,
            connections: occupancy.connections,
            consumers: occupancy.consumers,
            last_id: history.last_id,
            history: history.held,
            nodes: None,
            as_of: None,
        }
    }
}

pub async fn channel(State(state): State<AppState>, request: Request) -> ApiResult<Json<Info>> {
    let channel = super::channel_after("/_push/api/channel", request.uri().path())?;
    let counted = state.cluster.occupancy(&channel);
    let history = state.broker.history_of(&channel);
    let mut info = Info::new(channel, counted.value, history);
    info.nodes = Some(counted.nodes);
    info.as_of = Some(counted.as_of);
    Ok(Json(info))
}

#[derive(Serialize)]
pub struct Page {
    channels: Vec<Info>,
    next: Option<Channel>,
    nodes: u32,
    as_of: u64,
}

pub async fn channels(State(state): State<AppState>, params: Params) -> ApiResult<Json<Page>> {
    let prefix = params.get("prefix").unwrap_or("");
    let after = params.get("after").filter(|a| !a.is_empty());
    for (name, value) in [("prefix", Some(prefix)), ("after", after)] {
        if value.is_some_and(|v| v.len() > push_core::channel::MAX_LEN || !(v.is_empty() || v.starts_with('/'))) {
            return Err(ApiError::new(ErrorKind::BadRequest, format!("{name}= must start with '/' and be at most {} bytes", push_core::channel::MAX_LEN)));
        }
    }
    let limit = match params.get("limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
            ApiError::new(ErrorKind::BadRequest, format!("limit={:?} is not a number from 1 to {MAX_PAGE}", raw.chars().take(40).collect::<String>()))
        })?,
    };
    // One more than a page from each source tells whether there is a next page.
    let counted = state.cluster.occupied(prefix, after, limit + 1);
    let held = state.broker.held_channels(prefix, after, limit + 1);
    let mut merged: BTreeMap<Channel, (Occupancy, Option<ChannelHistory>)> = BTreeMap::new();
    for (channel, occupancy) in counted.value {
        merged.entry(channel).or_default().0 = occupancy;
    }
    for (channel, history) in held {
        merged.entry(channel).or_default().1 = Some(history);
    }
    let more = merged.len() > limit;
    let channels: Vec<Info> = merged
        .into_iter()
        .take(limit)
        .map(|(channel, (occupancy, history))| {
            let history = history.unwrap_or_else(|| state.broker.history_of(&channel));
            Info::new(channel, occupancy, history)
        })
        .collect();
    let next = if more { channels.last().map(|i| i.channel.clone()) } else { None };
    Ok(Json(Page { channels, next, nodes: counted.nodes, as_of: counted.as_of }))
}
