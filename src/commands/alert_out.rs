//! Where alerts go besides standard output: a Kafka topic (keyed by the
//! rule's name, each delivery confirmed) and a webhook (an HTTP POST of the
//! alert's JSON, retried with backoff a bounded number of times), both on a
//! thread of their own so that ingesting never waits for them. What could
//! not be delivered is counted, never silently lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError, bounded};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;

use crate::engine::alerts::Alert;
use crate::source::kafka::{Redactor, create_client};

/// Alerts waiting to be delivered; more are counted as dropped.
const QUEUE: usize = 1000;
/// Attempts per alert at the webhook, and the first pause between them
/// (doubled each time).
const WEBHOOK_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A topic to produce alerts to.
#[derive(Debug, Clone)]
pub struct AlertTopic {
    /// Bootstrap servers.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// Client properties (`-X`).
    pub properties: Vec<(String, String)>,
}

/// Where to send alerts.
#[derive(Debug, Clone, Default)]
pub struct AlertOutputs {
    /// Produce to this topic.
    pub topic: Option<AlertTopic>,
    /// POST to this URL.
    pub webhook: Option<String>,
}

/// How delivery went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    /// Alerts the topic confirmed.
    pub topic_sent: u64,
    /// Alerts the topic did not take.
    pub topic_failures: u64,
    /// Alerts the webhook answered with a success.
    pub webhook_sent: u64,
    /// Alerts the webhook never took, after every attempt.
    pub webhook_failures: u64,
    /// Alerts left out because too many were waiting.
    pub dropped: u64,
}

#[derive(Default)]
struct Counts {
    topic_sent: AtomicU64,
    topic_failures: AtomicU64,
    webhook_sent: AtomicU64,
    webhook_failures: AtomicU64,
    dropped: AtomicU64,
}

impl Counts {
    fn read(&self) -> DeliveryCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DeliveryCounts {
            topic_sent: get(&self.topic_sent),
            topic_failures: get(&self.topic_failures),
            webhook_sent: get(&self.webhook_sent),
            webhook_failures: get(&self.webhook_failures),
            dropped: get(&self.dropped),
        }
    }
}

/// The sending thread and its queue.
pub struct AlertSender {
    queue: Option<Sender<(String, String)>>,
    counts: Arc<Counts>,
    thread: Option<JoinHandle<()>>,
}

impl AlertSender {
    /// Starts sending to `outputs` (nothing to send: no thread).
    pub fn start(outputs: &AlertOutputs) -> Result<AlertSender, String> {
        let counts = Arc::new(Counts::default());
        if outputs.topic.is_none() && outputs.webhook.is_none() {
            return Ok(AlertSender {
                queue: None,
                counts,
                thread: None,
            });
        }
        let producer = match &outputs.topic {
            Some(to) => {
                let producer: FutureProducer = create_client(
                    &[("bootstrap.servers", to.brokers.as_str())],
                    &to.properties,
                )
                .map_err(|e| format!("cannot start the alerts producer: {e}"))?;
                Some((producer, to.topic.clone(), Redactor::new(&to.properties)))
            }
            None => None,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(DELIVERY_TIMEOUT))
            .build()
            .into();
        let webhook = outputs.webhook.clone();
        let (queue, waiting) = bounded::<(String, String)>(QUEUE);
        let shared = counts.clone();
        let thread = std::thread::Builder::new()
            .name("alert delivery".into())
            .spawn(move || {
                for (rule, json) in waiting {
                    if let Some((producer, topic, redactor)) = &producer {
                        let record = FutureRecord::to(topic).key(&rule).payload(&json);
                        let delivered =
                            futures_executor::block_on(producer.send(record, DELIVERY_TIMEOUT));
                        let counter = match delivered {
                            Ok(_) => &shared.topic_sent,
                            Err((e, _)) => {
                                log::warn!(
                                    "alert `{rule}` not delivered to `{topic}`: {}",
                                    redactor.clean(&e.to_string())
                                );
                                &shared.topic_failures
                            }
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(url) = &webhook {
                        let counter = match post(&agent, url, &json) {
                            Ok(()) => &shared.webhook_sent,
                            Err(e) => {
                                log::warn!("alert `{rule}` not delivered to the webhook: {e}");
                                &shared.webhook_failures
                            }
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| format!("cannot start the alert delivery thread: {e}"))?;
        Ok(AlertSender {
            queue: Some(queue),
            counts,
            thread: Some(thread),
        })
    }

    /// Queues `alert` for delivery without waiting.
    pub fn send(&self, alert: &Alert) {
        let Some(queue) = &self.queue else {
            return;
        };
        let json = serde_json::to_string(alert).unwrap_or_default();
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            queue.try_send((alert.rule.clone(), json))
        {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How delivery has gone so far.
    pub fn counts(&self) -> DeliveryCounts {
        self.counts.read()
    }

    /// Delivers what is queued (every attempt made), then stops.
    pub fn finish(mut self) -> DeliveryCounts {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("the alert delivery thread panicked");
        }
        self.counts.read()
    }
}

/// POSTs `json` to `url`, retrying with a doubling pause.
fn post(agent: &ureq::Agent, url: &str, json: &str) -> Result<(), String> {
    let mut pause = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        match agent
            .post(url)
            .header("content-type", "application/json")
            .send(json)
        {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        if attempt < WEBHOOK_ATTEMPTS {
            std::thread::sleep(pause);
            pause *= 2;
        }
    }
    Err(format!("{last} (after {WEBHOOK_ATTEMPTS} attempts)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topic_producer_takes_the_consumers_properties_and_quotes_none() {
        let topic = |properties: &[(&str, &str)]| AlertOutputs {
            topic: Some(AlertTopic {
                brokers: "127.0.0.1:1".into(),
                topic: "alerts".into(),
                properties: properties
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }),
            webhook: None,
        };
        // The registry's properties are not the producer's.
        let sender = AlertSender::start(&topic(&[(
            "schema.registry.basic.auth.user.info",
            "u:SECRET123",
        )]))
        .expect("the registry's credentials are left to the registry");
        sender.finish();
        let Err(e) = AlertSender::start(&topic(&[("security.protocol", "SECRET123")])) else {
            panic!("an invalid value is refused");
        };
        assert!(
            e.contains("security.protocol") && !e.contains("SECRET123"),
            "{e}"
        );
    }
}
