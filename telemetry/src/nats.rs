//! The NATS adapter (async-nats): core subjects for low latency, JetStream for the durable
//! journal.
//!
//! At start-up [`NatsBus::connect`] creates or updates, idempotently, the streams `TELEMETRY`
//! (`vpp.v1.telemetry.>`), `COMMANDS` (`vpp.v1.setpoint.>`, `vpp.v1.setpoint_ack.>`) and
//! `EVENTS` (`vpp.v1.event.>`) with their retention limits, and the KV bucket `registry`.
//! Publishing goes through JetStream with a `Nats-Msg-Id` header (the measurement id for
//! telemetry), so a message retried after an outage is stored once; core subscribers see every
//! message at once, with no extra hop. Subscriptions are core subscriptions decoded into
//! [`Delivery`]s; bytes that are not a valid message arrive as [`Delivery::Malformed`].

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use async_nats::{Client, HeaderMap};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::bus::{Bus, BusError, Delivery, Subscription, Topic};
use crate::subjects;
use crate::wire::{self, Message};

/// Retention and client settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsSettings {
    /// How long `TELEMETRY` keeps samples.
    pub telemetry_max_age: Duration,
    /// How long `COMMANDS` keeps setpoints and acks (the audit trail).
    pub commands_max_age: Duration,
    /// How long `EVENTS` keeps events.
    pub events_max_age: Duration,
    /// Size limit of each stream, bytes (oldest messages go first).
    pub max_bytes: i64,
    /// Window in which a repeated `Nats-Msg-Id` is dropped as a duplicate.
    pub duplicate_window: Duration,
    /// How long to wait for a JetStream acknowledgement.
    pub ack_timeout: Duration,
    /// Capacity of each subscription's queue.
    pub subscription_capacity: usize,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            telemetry_max_age: Duration::from_secs(24 * 3600),
            commands_max_age: Duration::from_secs(7 * 24 * 3600),
            events_max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 1 << 30,
            duplicate_window: Duration::from_secs(600),
            ack_timeout: Duration::from_secs(2),
            subscription_capacity: 65_536,
        }
    }
}

/// Names of the streams and the bucket.
pub const TELEMETRY_STREAM: &str = "TELEMETRY";
/// Setpoints and acks.
pub const COMMANDS_STREAM: &str = "COMMANDS";
/// Events.
pub const EVENTS_STREAM: &str = "EVENTS";
/// Asset registry bucket.
pub const REGISTRY_BUCKET: &str = "registry";

/// A bus over NATS.
#[derive(Debug, Clone)]
pub struct NatsBus {
    client: Client,
    js: jetstream::Context,
    settings: NatsSettings,
}

fn setup(what: &str, e: impl std::fmt::Display) -> BusError {
    BusError::Setup {
        what: what.to_owned(),
        detail: e.to_string(),
    }
}

impl NatsBus {
    /// Connects to `url` (retrying until the server is up) and sets up the streams and bucket.
    pub async fn connect(url: &str, settings: NatsSettings) -> Result<Self, BusError> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .client_capacity(65_536)
            .connect(url)
            .await
            .map_err(|e| setup(&format!("connection to {url}"), e))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(settings.ack_timeout);
        let bus = Self {
            client,
            js,
            settings,
        };
        bus.ensure_streams().await?;
        Ok(bus)
    }

    /// Creates or updates the streams and the registry bucket (idempotent).
    pub async fn ensure_streams(&self) -> Result<(), BusError> {
        let s = &self.settings;
        let streams = [
            (
                TELEMETRY_STREAM,
                vec![subjects::ALL_TELEMETRY.to_owned()],
                s.telemetry_max_age,
            ),
            (
                COMMANDS_STREAM,
                vec![
                    subjects::ALL_SETPOINTS.to_owned(),
                    subjects::ALL_ACKS.to_owned(),
                ],
                s.commands_max_age,
            ),
            (
                EVENTS_STREAM,
                vec![subjects::ALL_EVENTS.to_owned()],
                s.events_max_age,
            ),
        ];
        for (name, subjects, max_age) in streams {
            self.js
                .create_or_update_stream(stream::Config {
                    name: name.to_owned(),
                    subjects,
                    max_age,
                    max_bytes: s.max_bytes,
                    duplicate_window: s.duplicate_window,
                    storage: stream::StorageType::File,
                    discard: stream::DiscardPolicy::Old,
                    ..Default::default()
                })
                .await
                .map_err(|e| setup(&format!("stream {name}"), e))?;
        }
        self.js
            .create_or_update_key_value(kv::Config {
                bucket: REGISTRY_BUCKET.to_owned(),
                description: "assets and their place in the hierarchy".to_owned(),
                history: 16,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| setup("kv bucket registry", e))?;
        Ok(())
    }

    /// Publishes `msg` on core NATS only: lowest latency, no acknowledgement (the stream bound
    /// to the subject still stores it, but a message lost in an outage is not retried).
    pub async fn publish_core(&self, msg: &Message) -> Result<(), BusError> {
        self.client
            .publish(msg.subject(), msg.to_json().into())
            .await
            .map_err(|e| unreachable(&msg.subject(), e))
    }

    /// The underlying client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The JetStream context.
    #[must_use]
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }
}

/// The de-duplication id of a message.
#[must_use]
pub fn message_id(msg: &Message) -> String {
    match msg {
        Message::Telemetry(t) => format!("t.{}.{}", t.sample.asset(), t.sample.seq()),
        Message::Setpoint(s) => format!("s.{}", s.setpoint.correlation_id().as_str()),
        Message::Ack(a) => format!("a.{}.{}", a.asset, a.correlation_id.as_str()),
        Message::Event(e) => format!(
            "e.{}.{}.{}",
            e.asset
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            e.kind.token(),
            e.at.timestamp_nanos_opt().unwrap_or_default()
        ),
    }
}

fn unreachable(subject: &str, e: impl std::fmt::Display) -> BusError {
    BusError::Unreachable {
        subject: subject.to_owned(),
        detail: e.to_string(),
    }
}

fn decode(topic: &Topic, subject: &str, payload: &[u8]) -> Delivery {
    let r = match topic {
        Topic::Telemetry => wire::decode("telemetry", payload).map(Message::Telemetry),
        Topic::Setpoints { .. } => wire::decode("setpoint", payload).map(Message::Setpoint),
        Topic::Acks => wire::decode("setpoint ack", payload).map(Message::Ack),
        Topic::Events => wire::decode("event", payload).map(Message::Event),
    };
    match r {
        Ok(m) if m.subject() == subject => Delivery::Message(m),
        Ok(m) => Delivery::Malformed {
            subject: subject.to_owned(),
            error: wire::WireError::Malformed {
                what: "message",
                detail: format!(
                    "its content belongs on {}, not on this subject",
                    m.subject()
                ),
            },
        },
        Err(error) => Delivery::Malformed {
            subject: subject.to_owned(),
            error,
        },
    }
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, msg: Message) -> Result<(), BusError> {
        self.publish_batch(std::slice::from_ref(&msg))
            .await
            .map_err(|(_, e)| e)
    }

    async fn publish_batch(&self, msgs: &[Message]) -> Result<(), (usize, BusError)> {
        let mut acks = Vec::with_capacity(msgs.len());
        for (i, m) in msgs.iter().enumerate() {
            let subject = m.subject();
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", message_id(m).as_str());
            let ack = self
                .js
                .publish_with_headers(subject.clone(), headers, m.to_json().into())
                .await
                .map_err(|e| (i, unreachable(&subject, e)))?;
            acks.push((subject, ack));
        }
        for (i, (subject, ack)) in acks.into_iter().enumerate() {
            ack.await.map_err(|e| (i, unreachable(&subject, e)))?;
        }
        Ok(())
    }

    async fn subscribe(&self, topic: Topic) -> Result<Subscription, BusError> {
        let subject = match &topic {
            Topic::Telemetry => subjects::ALL_TELEMETRY.to_owned(),
            Topic::Setpoints { site: Some(site) } => subjects::setpoints_of_site(site),
            Topic::Setpoints { site: None } => subjects::ALL_SETPOINTS.to_owned(),
            Topic::Acks => subjects::ALL_ACKS.to_owned(),
            Topic::Events => subjects::ALL_EVENTS.to_owned(),
        };
        let mut sub = self
            .client
            .subscribe(subject.clone())
            .await
            .map_err(|e| setup(&format!("subscription to {subject}"), e))?;
        // Make sure the server has the interest before anyone publishes.
        self.client
            .flush()
            .await
            .map_err(|e| setup(&format!("subscription to {subject}"), e))?;
        let (tx, rx) = mpsc::channel(self.settings.subscription_capacity);
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let delivery = decode(&topic, m.subject.as_str(), &m.payload);
                if tx.send(delivery).await.is_err() {
                    break;
                }
            }
        });
        Ok(Subscription::new(rx))
    }
}
