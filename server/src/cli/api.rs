//! The server API from the command line, through the Rust producer (docs/PROTOCOL.md, "Server
//! API"): `push-server channels`, `info <channel>`, `presence <channel>`, `history <channel>`
//! and `disconnect <consumer>`. Each prints for humans, or with `--json` the answer as JSON (one object, one line).

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use push_core::api::{ChannelInfo, ChannelPage, ChannelsQuery, Disconnect, Disconnected, History, HistoryRange, Presence};
use push_core::MessageId;

use super::publish::{fail, ProducerArgs};
use crate::config::Config;

#[derive(clap::Args, Debug, Clone)]
pub struct ChannelsArgs {
    /// Only channels whose name starts with this, e.g. `/rooms/`.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Start after this channel (the `next` of the previous page).
    #[arg(long)]
    pub after: Option<String>,
    /// Channels per page, 1 to 1000 (the server's default: 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Follow the pages to the last one.
    #[arg(long)]
    pub all: bool,
    /// Print each page as JSON, one per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub producer: ProducerArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct InfoArgs {
    /// The channel, e.g. `/rooms/1`.
    pub channel: String,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub producer: ProducerArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct HistoryArgs {
    /// The channel, e.g. `/rooms/1`.
    pub channel: String,
    /// The newest N messages the server holds in memory (default: all of them).
    #[arg(long, conflicts_with = "after")]
    pub last: Option<u32>,
    /// Every message after this id (cursor), also from the data dir or RabbitMQ, with gaps.
    #[arg(long)]
    pub after: Option<MessageId>,
    /// With --after: at most this many messages.
    #[arg(long, requires = "after")]
    pub limit: Option<u32>,
    /// Print the answer (messages, gaps, last_id, more) as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub producer: ProducerArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DisconnectArgs {
    /// The consumer id whose subscriptions end, on every node.
    pub consumer: String,
    /// Only its connections that include this channel.
    #[arg(long)]
    pub channel: Option<String>,
    /// Shown to the client (at most 200 bytes).
    #[arg(long)]
    pub reason: Option<String>,
    /// Also refuse its new subscriptions (to --channel, or any) for this long, e.g. `10m` (at most 24h).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub ban: Option<Duration>,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub producer: ProducerArgs,
}

pub async fn channels(config: &Config, args: &ChannelsArgs) -> i32 {
    let producer = match args.producer.producer(config, "channels") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut query = ChannelsQuery::new();
    query.prefix = args.prefix.clone();
    query.after = args.after.clone();
    query.limit = args.limit;
    let mut first = true;
    loop {
        let page = match producer.channels(query.clone()).await {
            Ok(page) => page,
            Err(e) => return fail("channels", &e),
        };
        let text = if args.json { json(&page) } else { channel_table(&page, first) };
        if !print(&text) {
            return 0;
        }
        first = false;
        match page.next {
            Some(next) if args.all => query.after = Some(next),
            Some(next) => {
                if !args.json {
                    eprintln!("push-server channels: more after {next} (--after {next}, or --all)");
                }
                return 0;
            }
            None => return 0,
        }
    }
}

pub async fn info(config: &Config, args: &InfoArgs) -> i32 {
    let producer = match args.producer.producer(config, "info") {
        Ok(p) => p,
        Err(code) => return code,
    };
    match producer.channel_info(&args.channel).await {
        Ok(info) => {
            print(&if args.json { json(&info) } else { info_text(&info) });
            0
        }
        Err(e) => fail("info", &e),
    }
}

pub async fn presence(config: &Config, args: &InfoArgs) -> i32 {
    let producer = match args.producer.producer(config, "presence") {
        Ok(p) => p,
        Err(code) => return code,
    };
    match producer.presence(&args.channel).await {
        Ok(presence) => {
            print(&if args.json { json(&presence) } else { presence_text(&presence) });
            0
        }
        Err(e) => fail("presence", &e),
    }
}

pub async fn history(config: &Config, args: &HistoryArgs) -> i32 {
    let producer = match args.producer.producer(config, "history") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let range = match (args.last, args.after) {
        (Some(n), _) => HistoryRange::Last(n),
        (None, Some(id)) => HistoryRange::After { id, limit: args.limit },
        (None, None) => HistoryRange::All,
    };
    match producer.history(&args.channel, range).await {
        Ok(history) => {
            if args.json {
                print(&json(&history));
            } else {
                print_history(&history);
            }
            0
        }
        Err(e) => fail("history", &e),
    }
}

pub async fn disconnect(config: &Config, args: &DisconnectArgs) -> i32 {
    let producer = match args.producer.producer(config, "disconnect") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut request = Disconnect::new(args.consumer.clone());
    request.channel = args.channel.clone();
    request.reason = args.reason.clone();
    request.ban = args.ban;
    match producer.disconnect(request).await {
        Ok(done) => {
            print(&if args.json { json(&done) } else { disconnected_text(&done) });
            0
        }
        Err(e) => fail("disconnect", &e),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Prints `text` and a newline; false once stdout is closed (`| head`).
fn print(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|_| out.flush()).is_ok()
}

/// ms since the Unix epoch as RFC 3339 (UTC).
fn time(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn newest(last_id: Option<MessageId>) -> String {
    last_id.map_or_else(|| "-".to_owned(), |id| id.to_string())
}

fn channel_table(page: &ChannelPage, header: bool) -> String {
    let width = page.channels.iter().map(|c| c.channel.len()).max().unwrap_or(0).max("CHANNEL".len());
    let mut lines = Vec::new();
    if header {
        lines.push(format!("{:width$}  {:>11}  {:>9}  {:>7}  LAST ID", "CHANNEL", "CONNECTIONS", "CONSUMERS", "HISTORY"));
    }
    for c in &page.channels {
        lines.push(format!("{:width$}  {:>11}  {:>9}  {:>7}  {}", c.channel, c.connections, c.consumers, c.history, newest(c.last_id)));
    }
    lines.join("\n")
}

fn info_text(info: &ChannelInfo) -> String {
    let nodes = if info.nodes == 1 { "1 node".to_owned() } else { format!("{} nodes", info.nodes) };
    [
        format!("channel      {}", info.channel),
        format!("connections  {}", info.connections),
        format!("consumers    {}", info.consumers),
        format!("history      {} message(s), newest {}", info.history, newest(info.last_id)),
        format!("counted on   {nodes}, as of {}", time(info.as_of)),
    ]
    .join("\n")
}

/// One line a message (`<id> <time> <payload>`, newlines shown as `\n`, a binary payload as
/// `base64:...`), in id order with the gaps on stderr where they fall.
/// One member a line, with its info, then the count.
fn presence_text(presence: &Presence) -> String {
    let mut lines: Vec<String> = presence
        .members
        .iter()
        .map(|m| match &m.info {
            Some(info) => format!("{}  {info}", m.consumer),
            None => m.consumer.clone(),
        })
        .collect();
    let listed = if presence.members.len() as u64 == presence.count { String::new() } else { format!(" ({} listed)", presence.members.len()) };
    lines.push(format!("{} member(s) on {}{listed}, as of {}", presence.count, presence.channel, time(presence.as_of)));
    lines.join("\n")
}

fn print_history(history: &History) {
    use base64::Engine as _;
    let mut gaps = history.gaps.iter().peekable();
    for m in &history.messages {
        while let Some(gap) = gaps.next_if(|g| g.to < m.id) {
            eprintln!("push-server history: gap: messages {}..{} of {} are gone", gap.from, gap.to, gap.channel);
        }
        let payload = match m.text() {
            Some(text) => text.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r"),
            None => format!("base64:{}", base64::engine::general_purpose::STANDARD.encode(&m.data)),
        };
        if !print(&format!("{} {} {payload}", m.id, time(m.time))) {
            return;
        }
    }
    for gap in gaps {
        eprintln!("push-server history: gap: messages {}..{} of {} are gone", gap.from, gap.to, gap.channel);
    }
    if history.more {
        eprintln!("push-server history: more after {} (--after {})", history.last_id, history.last_id);
    }
}

fn disconnected_text(done: &Disconnected) -> String {
    let on = done.channel.as_deref().map(|c| format!(" on {c}")).unwrap_or_default();
    let plural = if done.disconnected == 1 { "" } else { "s" };
    let ban = done.ban_until.map(|until| format!("; banned until {}", time(until))).unwrap_or_default();
    format!("disconnected {} connection{plural} of {}{on}{ban}", done.disconnected, done.consumer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_lines_read_well() {
        let page: ChannelPage = serde_json::from_str(
            r#"{"channels": [{"channel": "/rooms/1", "connections": 3, "consumers": 2, "last_id": "17", "history": 10},
                             {"channel": "/a", "connections": 0, "consumers": 0, "last_id": null, "history": 0}],
                "next": null, "nodes": 1, "as_of": 0}"#,
        )
        .unwrap();
        let table = channel_table(&page, true);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "CHANNEL   CONNECTIONS  CONSUMERS  HISTORY  LAST ID");
        assert_eq!(lines[1], "/rooms/1            3          2       10  17");
        assert_eq!(lines[2], "/a                  0          0        0  -");
        assert!(!channel_table(&page, false).contains("CHANNEL"));
        assert!(info_text(&page.channels[0]).contains("as of 1970-01-01T00:00:00.000Z"), "{}", info_text(&page.channels[0]));
        let done: Disconnected = serde_json::from_str(r#"{"consumer":"alice","channel":"/r","disconnected":1,"ban_until":600000}"#).unwrap();
        assert_eq!(disconnected_text(&done), "disconnected 1 connection of alice on /r; banned until 1970-01-01T00:10:00.000Z");
    }
}
