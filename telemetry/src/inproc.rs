//! The in-process bus: bounded channels with backpressure, typed messages, no serialisation.
//! The embedded default of `vpp run`.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::bus::{Bus, BusError, Delivery, Subscription, Topic};
use crate::wire::Message;

type Subscribers = Arc<Vec<(Topic, mpsc::Sender<Delivery>)>>;

/// An in-process bus. Each subscription has its own bounded queue of `capacity` messages; a
/// publisher waits while a matching subscriber's queue is full (backpressure, no loss).
#[derive(Debug)]
pub struct InProcessBus {
    capacity: usize,
    subscribers: Mutex<Subscribers>,
}

impl InProcessBus {
    /// A bus whose subscriptions each buffer up to `capacity` messages (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            subscribers: Mutex::new(Arc::new(Vec::new())),
        }
    }

    fn snapshot(&self) -> Subscribers {
        Arc::clone(
            &self
                .subscribers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn prune_closed(&self) {
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let live: Vec<_> = subs
            .iter()
            .filter(|(_, tx)| !tx.is_closed())
            .cloned()
            .collect();
        *subs = Arc::new(live);
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, msg: Message) -> Result<(), BusError> {
        let subs = self.snapshot();
        let targets: Vec<&mpsc::Sender<Delivery>> = subs
            .iter()
            .filter(|(t, _)| t.matches(&msg))
            .map(|(_, tx)| tx)
            .collect();
        let Some((last, others)) = targets.split_last() else {
            return Ok(());
        };
        let mut closed = false;
        for tx in others {
            closed |= tx.send(Delivery::Message(msg.clone())).await.is_err();
        }
        // The last subscriber takes the message itself: no clone on the common path.
        closed |= last.send(Delivery::Message(msg)).await.is_err();
        if closed {
            self.prune_closed();
        }
        Ok(())
    }

    async fn subscribe(&self, topic: Topic) -> Result<Subscription, BusError> {
        let (tx, rx) = mpsc::channel(self.capacity);
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next: Vec<_> = subs.iter().cloned().collect();
        next.push((topic, tx));
        *subs = Arc::new(next);
        Ok(Subscription::new(rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EventKind, EventMsg, WIRE_VERSION};
    use chrono::{TimeZone, Utc};
    use std::time::Duration;

    fn event(asset: &str) -> Message {
        Message::Event(EventMsg {
            v: WIRE_VERSION,
            asset: Some(asset.parse().unwrap()),
            at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            kind: EventKind::Connect,
        })
    }

    #[tokio::test]
    async fn subscribers_get_their_topics_only() {
        let bus = InProcessBus::new(8);
        let mut events = bus.subscribe(Topic::Events).await.unwrap();
        let mut events2 = bus.subscribe(Topic::Events).await.unwrap();
        let mut telemetry = bus.subscribe(Topic::Telemetry).await.unwrap();
        bus.publish(event("r/s/f/x/a")).await.unwrap();
        assert_eq!(
            events.next().await,
            Some(Delivery::Message(event("r/s/f/x/a")))
        );
        assert_eq!(
            events2.next().await,
            Some(Delivery::Message(event("r/s/f/x/a")))
        );
        assert_eq!(telemetry.try_next(), None);
    }

    #[tokio::test]
    async fn a_full_subscriber_applies_backpressure_and_loses_nothing() {
        let bus = Arc::new(InProcessBus::new(2));
        let mut sub = bus.subscribe(Topic::Events).await.unwrap();
        bus.publish(event("r/s/f/x/a")).await.unwrap();
        bus.publish(event("r/s/f/x/b")).await.unwrap();
        // The queue is full: the third publish waits.
        let b2 = Arc::clone(&bus);
        let pending = tokio::spawn(async move { b2.publish(event("r/s/f/x/c")).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !pending.is_finished(),
            "publisher must wait for the subscriber"
        );
        let mut got = Vec::new();
        for _ in 0..3 {
            if let Some(Delivery::Message(Message::Event(e))) = sub.next().await {
                got.push(e.asset.unwrap().asset().to_string());
            }
        }
        pending.await.unwrap().unwrap();
        assert_eq!(got, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn dropped_subscribers_are_forgotten() {
        let bus = InProcessBus::new(1);
        let sub = bus.subscribe(Topic::Events).await.unwrap();
        drop(sub);
        bus.publish(event("r/s/f/x/a")).await.unwrap();
        assert!(bus.snapshot().is_empty());
    }
}
