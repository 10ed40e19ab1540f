//! The bus port: typed publish/subscribe of telemetry, setpoints, acks and events.
//!
//! Two adapters implement [`Bus`]: [`crate::inproc::InProcessBus`] (bounded channels with
//! backpressure; the embedded default) and [`crate::nats::NatsBus`] (core subjects plus the
//! JetStream journal). Both deliver into a bounded [`Subscription`]: a slow subscriber slows
//! the publisher down (in-process) or the subscription's reader (NATS); nothing is dropped
//! silently.

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::wire::{Message, WireError};

/// What a subscription receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// All telemetry.
    Telemetry,
    /// Setpoints, of one site or of all.
    Setpoints {
        /// The site token (`None`: every site).
        site: Option<String>,
    },
    /// All setpoint acks.
    Acks,
    /// All events.
    Events,
}

impl Topic {
    /// Whether `msg` belongs to this topic.
    #[must_use]
    pub fn matches(&self, msg: &Message) -> bool {
        match (self, msg) {
            (Self::Telemetry, Message::Telemetry(_))
            | (Self::Acks, Message::Ack(_))
            | (Self::Events, Message::Event(_)) => true,
            (Self::Setpoints { site }, Message::Setpoint(s)) => site
                .as_deref()
                .is_none_or(|site| s.setpoint.asset().site() == site),
            _ => false,
        }
    }
}

/// One item from a subscription.
// Messages are the common case and travel by value; boxing them to shrink the rare
// `Malformed` variant would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// A valid message.
    Message(Message),
    /// Bytes on the topic's subjects that are not a valid message (only over NATS, where other
    /// programs can publish). Reported, never dropped silently.
    Malformed {
        /// The subject they came on.
        subject: String,
        /// What was wrong.
        error: WireError,
    },
}

/// A bounded stream of deliveries.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Delivery>,
}

impl Subscription {
    /// Wraps the receiving end of an adapter's channel.
    #[must_use]
    pub fn new(rx: mpsc::Receiver<Delivery>) -> Self {
        Self { rx }
    }

    /// The next delivery; `None` once the bus is gone.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }

    /// The next delivery if one is ready.
    pub fn try_next(&mut self) -> Option<Delivery> {
        self.rx.try_recv().ok()
    }
}

/// Why a bus operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BusError {
    /// The bus is shut down.
    #[error("bus is closed")]
    Closed,
    /// The bus cannot be reached now (try again later; the gateway buffers meanwhile).
    #[error("bus unreachable while publishing to {subject}: {detail}")]
    Unreachable {
        /// The subject.
        subject: String,
        /// What the client said.
        detail: String,
    },
    /// Setting up a subscription, stream or bucket failed.
    #[error("failed to set up {what}: {detail}")]
    Setup {
        /// What was being set up.
        what: String,
        /// What the client said.
        detail: String,
    },
}

/// The bus port.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Publishes `msg` on its subject. Returns once the bus has taken it (for a durable bus:
    /// once the journal has stored it).
    async fn publish(&self, msg: Message) -> Result<(), BusError>;

    /// Publishes `msgs` in order. On failure, says how many leading messages were taken
    /// before the error; the caller keeps the rest. Adapters override this to pipeline (the
    /// NATS adapter keeps every JetStream acknowledgement of a batch outstanding at once).
    async fn publish_batch(&self, msgs: &[Message]) -> Result<(), (usize, BusError)> {
        for (i, m) in msgs.iter().enumerate() {
            self.publish(m.clone()).await.map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Subscribes to `topic`.
    async fn subscribe(&self, topic: Topic) -> Result<Subscription, BusError>;
}
