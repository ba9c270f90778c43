//! Notification channels: tell other systems when tickets open, change, resolve or reopen.
//! Every change writes a notification in its own transaction; the dispatcher here expands
//! notifications into one durable delivery per channel that routes them (by priority and
//! event) and sends each until it is delivered or retried out, with backoff. One file per
//! channel kind.

pub mod email;
pub mod webhook;

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use crate::model::now_ms;
use crate::store::Store;
use crate::store::channels::{Delivery, Route};

/// How long a claimed delivery is someone's before another dispatcher may try it: longer
/// than a whole claimed batch can take (`BATCH` sends of at most `SEND_LIMIT` each).
const LEASE: Duration = Duration::from_secs(600);
/// Deliveries claimed at once.
const BATCH: u32 = 10;
/// One send may take this long before it counts as failed.
const SEND_LIMIT: Duration = Duration::from_secs(30);
/// How often the dispatcher looks for work.
const TICK: Duration = Duration::from_millis(250);

/// `[[channels]]` as written in the config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChannelFile {
    name: String,
    kind: String,
    url: Option<String>,
    secret: Option<String>,
    #[serde(default)]
    priorities: Option<Vec<String>>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default, with = "optional_duration")]
    retry_initial: Option<Duration>,
    #[serde(default, with = "optional_duration")]
    retry_max: Option<Duration>,
    #[serde(default)]
    max_attempts: Option<u32>,
    /// Email: the SMTP server ("host:port"), its security, an optional login, sender and
    /// recipients.
    smtp: Option<String>,
    security: Option<String>,
    username: Option<String>,
    password: Option<String>,
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    /// Email: mail the ticket's requester (their address from the contact directory, in
    /// their language) instead of `to`: public replies and "is it fixed?".
    #[serde(default)]
    to_requester: bool,
}

mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| {
            humantime::parse_duration(&text).map_err(|e| {
                serde::de::Error::custom(format!("{text:?} is not a duration like \"10s\": {e}"))
            })
        })
        .transpose()
    }
}

/// A validated channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    pub route: Route,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// JSON POSTed to `url`, signed with HMAC-SHA256 over "timestamp.body" with `secret`.
    Webhook { url: String, secret: String },
    /// A mail per event, threaded per ticket.
    Email(Box<email::EmailChannel>),
}

const EVENTS: [&str; 5] = ["opened", "updated", "resolved", "reopened", "replied"];
/// What a channel that mails requesters sends by default.
const REQUESTER_EVENTS: [&str; 2] = ["replied", "resolved"];

impl Channel {
    /// Validates `[[channels]]`; errors name the channel and the key.
    pub fn from_files(files: Vec<ChannelFile>) -> Result<Vec<Channel>, String> {
        let mut channels: Vec<Channel> = Vec::new();
        for file in files {
            let name = file.name.trim().to_owned();
            let at = |key: &str| format!("channels[{name:?}].{key}");
            if name.is_empty() || channels.iter().any(|c| c.name == name) {
                return Err(format!(
                    "channels: every channel needs a unique name ({name:?})"
                ));
            }
            let kind = match file.kind.as_str() {
                "webhook" => {
                    let url = file
                        .url
                        .clone()
                        .ok_or_else(|| format!("{} is required for a webhook", at("url")))?;
                    webhook::parse_url(&url).map_err(|e| format!("{}: {e}", at("url")))?;
                    let secret = file.secret.clone().unwrap_or_default();
                    if secret.len() < 16 {
                        return Err(format!(
                            "{} must be at least 16 characters (receivers verify the signature with it)",
                            at("secret")
                        ));
                    }
                    ChannelKind::Webhook { url, secret }
                }
                "email" => {
                    let smtp = file
                        .smtp
                        .clone()
                        .ok_or_else(|| format!("{} is required for email", at("smtp")))?;
                    let (host, port) = smtp
                        .rsplit_once(':')
                        .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
                        .filter(|(host, _)| !host.is_empty())
                        .ok_or_else(|| format!("{}: {smtp:?} is not host:port", at("smtp")))?;
                    let security = match file.security.as_deref() {
                        None => email::SmtpSecurity::StartTls,
                        Some(text) => email::SmtpSecurity::parse(text).ok_or_else(|| {
                            format!("{}: {text:?} is not starttls, tls or none", at("security"))
                        })?,
                    };
                    let from = file
                        .from
                        .as_deref()
                        .ok_or_else(|| format!("{} is required for email", at("from")))?
                        .parse()
                        .map_err(|e| format!("{}: {e}", at("from")))?;
                    if file.to_requester && !file.to.is_empty() {
                        return Err(format!(
                            "{}: a channel with to_requester = true mails each ticket's requester; leave `to` out (make another channel for staff)",
                            at("to")
                        ));
                    }
                    if file.to.is_empty() && !file.to_requester {
                        return Err(format!("{} needs at least one address", at("to")));
                    }
                    let to = file
                        .to
                        .iter()
                        .map(|address| {
                            address
                                .parse()
                                .map_err(|e| format!("{}: {address:?}: {e}", at("to")))
                        })
                        .collect::<Result<_, _>>()?;
                    let credentials = match (&file.username, &file.password) {
                        (Some(user), Some(password)) => Some((user.clone(), password.clone())),
                        (None, None) => None,
                        _ => {
                            return Err(format!(
                                "{}: give both username and password, or neither",
                                at("username")
                            ));
                        }
                    };
                    ChannelKind::Email(Box::new(email::EmailChannel {
                        host,
                        port,
                        security,
                        credentials,
                        from,
                        to,
                    }))
                }
                other => {
                    return Err(format!(
                        "{}: {other:?} is not a channel kind (webhook, email)",
                        at("kind")
                    ));
                }
            };
            let priorities = match &file.priorities {
                None => vec![1, 2, 3, 4, 5],
                Some(names) => names
                    .iter()
                    .map(|p| {
                        p.strip_prefix('p')
                            .and_then(|n| n.parse::<u8>().ok())
                            .filter(|n| (1..=5).contains(n))
                            .ok_or_else(|| format!("{}: {p:?} is not p1 to p5", at("priorities")))
                    })
                    .collect::<Result<_, _>>()?,
            };
            if file.to_requester && file.kind != "email" {
                return Err(format!("{} is for email channels", at("to_requester")));
            }
            let events = match &file.events {
                None if file.to_requester => {
                    REQUESTER_EVENTS.iter().map(|e| (*e).to_owned()).collect()
                }
                None => EVENTS.iter().map(|e| (*e).to_owned()).collect(),
                Some(events) => {
                    for event in events {
                        if !EVENTS.contains(&event.as_str()) {
                            return Err(format!(
                                "{}: {event:?} is not one of {EVENTS:?}",
                                at("events")
                            ));
                        }
                        // The requester's mail says "replied" or "is it fixed?": any other
                        // event would ask a person whether a ticket that is not resolved is fixed.
                        if file.to_requester && !REQUESTER_EVENTS.contains(&event.as_str()) {
                            return Err(format!(
                                "{}: {event:?} is not for requesters; a channel with to_requester = true takes only {REQUESTER_EVENTS:?}",
                                at("events")
                            ));
                        }
                    }
                    events.clone()
                }
            };
            let retry_initial = file.retry_initial.unwrap_or(Duration::from_secs(10));
            let retry_max = file.retry_max.unwrap_or(Duration::from_secs(3600));
            if retry_initial.is_zero() || retry_max < retry_initial {
                return Err(format!(
                    "{}: retry_initial must be above zero and at most retry_max",
                    at("retry_initial")
                ));
            }
            channels.push(Channel {
                route: Route {
                    channel: name.clone(),
                    priorities,
                    events,
                    to_requester: file.to_requester,
                },
                name,
                kind,
                retry_initial,
                retry_max,
                max_attempts: file.max_attempts.unwrap_or(12).clamp(1, 100),
            });
        }
        Ok(channels)
    }

    /// The wait before attempt `attempt + 1` (exponential, capped).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(20));
        self.retry_initial
            .saturating_mul(factor)
            .min(self.retry_max)
    }
}

/// Expands notifications and sends deliveries until `stop`.
pub async fn dispatch(
    store: Store,
    channels: Vec<Channel>,
    systems: Vec<crate::store::sync::SyncFilter>,
    mut stop: watch::Receiver<bool>,
) {
    let routes: Vec<Route> = channels.iter().map(|c| c.route.clone()).collect();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = store
            .expand_notifications(&routes, &systems, now_ms(), 200)
            .await
        {
            tracing::warn!(error = %e, "expanding notifications; retrying");
            continue;
        }
        if channels.is_empty() {
            continue;
        }
        let lease_ms = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let due = match store.claim_deliveries(now_ms(), lease_ms, BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "claiming deliveries; retrying");
                continue;
            }
        };
        for delivery in due {
            let Some(channel) = channels.iter().find(|c| c.name == delivery.channel) else {
                // A channel removed from the config: its deliveries end here.
                let _ = store
                    .record_delivery(
                        &delivery,
                        Err("the channel is no longer configured"),
                        None,
                        now_ms(),
                    )
                    .await;
                continue;
            };
            let outcome = send(channel, &delivery).await;
            let retry_at = (delivery.attempts + 1 < channel.max_attempts).then(|| {
                now_ms()
                    + i64::try_from(channel.backoff(delivery.attempts).as_millis())
                        .unwrap_or(i64::MAX)
            });
            match &outcome {
                Ok(()) => {
                    tracing::info!(channel = %channel.name, delivery = %delivery.id, event = %delivery.event, "notification delivered")
                }
                Err(e) => {
                    tracing::warn!(channel = %channel.name, delivery = %delivery.id, attempt = delivery.attempts + 1, error = %e, "notification not delivered")
                }
            }
            if let Err(e) = store
                .record_delivery(
                    &delivery,
                    outcome.as_ref().map(|_| ()).map_err(String::as_str),
                    retry_at,
                    now_ms(),
                )
                .await
            {
                tracing::error!(error = %e, "recording a delivery; it will be tried again when its lease ends");
            }
        }
    }
}

async fn send(channel: &Channel, delivery: &Delivery) -> Result<(), String> {
    tokio::time::timeout(SEND_LIMIT, send_now(channel, delivery))
        .await
        .map_err(|_| format!("no answer within {SEND_LIMIT:?}"))?
}

async fn send_now(channel: &Channel, delivery: &Delivery) -> Result<(), String> {
    match &channel.kind {
        ChannelKind::Webhook { url, secret } => webhook::post(url, secret, delivery).await,
        ChannelKind::Email(channel) => email::send(channel, delivery).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Channel>, String> {
        #[derive(Deserialize)]
        struct File {
            channels: Vec<ChannelFile>,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        Channel::from_files(file.channels)
    }

    #[test]
    fn channels_route_by_priority_and_event_and_back_off_exponentially() {
        let channels = parse(
            "[[channels]]\nname = \"oncall\"\nkind = \"webhook\"\nurl = \"https://hooks.example.com/x\"\nsecret = \"0123456789abcdef\"\npriorities = [\"p1\", \"p2\"]\nevents = [\"opened\"]\nretry_initial = \"1s\"\nretry_max = \"5s\"\n",
        )
        .expect("parses");
        assert_eq!(channels[0].route.priorities, [1, 2]);
        assert_eq!(channels[0].route.events, ["opened"]);
        let waits: Vec<u64> = (0..5).map(|n| channels[0].backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }

    /// Regression: `to_requester = true` with `events = ["opened", …]` mailed the requester
    /// "is it fixed?" about a ticket that had just opened.
    #[test]
    fn requester_channels_take_only_requester_events() {
        let base = "[[channels]]\nname = \"people\"\nkind = \"email\"\nsmtp = \"smtp.example.com:587\"\nfrom = \"it@example.com\"\nto_requester = true\n";
        let channels = parse(base).expect("defaults parse");
        assert_eq!(channels[0].route.events, REQUESTER_EVENTS);
        parse(&format!("{base}events = [\"replied\"]\n")).expect("replied alone parses");
        for event in ["opened", "updated", "reopened"] {
            let text = format!("{base}events = [\"replied\", \"{event}\"]\n");
            let error = parse(&text).expect_err(&text);
            assert!(error.contains("channels[\"people\"].events"), "{error}");
        }
    }

    #[test]
    fn bad_channels_name_the_channel_and_key() {
        let base = "[[channels]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example.com\"\nsecret = \"0123456789abcdef\"\n";
        let cases = [
            (base.replace("webhook", "pager"), "channels[\"hook\"].kind"),
            (
                base.replace("https://h.example.com", "ftp://h"),
                "channels[\"hook\"].url",
            ),
            (
                base.replace("0123456789abcdef", "short"),
                "channels[\"hook\"].secret",
            ),
            (
                format!("{base}priorities = [\"p9\"]\n"),
                "channels[\"hook\"].priorities",
            ),
            (
                format!("{base}events = [\"deleted\"]\n"),
                "channels[\"hook\"].events",
            ),
            (format!("{base}{base}"), "unique name"),
        ];
        for (text, expected) in cases {
            let error = parse(&text).expect_err(&text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
