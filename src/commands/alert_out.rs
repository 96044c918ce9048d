//! Where alerts go besides standard output: a Kafka topic (keyed by the
//! rule's name, each delivery confirmed) and a webhook (an HTTP POST of the
//! alert's JSON, retried with backoff a bounded number of times), both on a
//! thread of their own so that ingesting never waits for them. A webhook
//! request gives up after a few seconds, and the end of a run waits for
//! what is still being delivered a few seconds at most. What could not be
//! delivered is counted, never silently lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
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
/// How long one delivery to the topic may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a webhook may take to accept a connection, and to answer a
/// request in all (a server that never answers costs this much an attempt).
const WEBHOOK_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the end of a run waits for the alerts still being delivered.
pub const FINISH_WAIT: Duration = Duration::from_secs(5);

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
    /// Alerts whose delivery was still waiting or under way when the run
    /// ended, given up after [`FINISH_WAIT`].
    pub undelivered: u64,
}

#[derive(Default)]
struct Counts {
    topic_sent: AtomicU64,
    topic_failures: AtomicU64,
    webhook_sent: AtomicU64,
    webhook_failures: AtomicU64,
    dropped: AtomicU64,
    /// Alerts queued, and those whose delivery is over (every output).
    queued: AtomicU64,
    done: AtomicU64,
    /// Set when the run ends before delivery: no attempt is begun after.
    given_up: AtomicBool,
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
            undelivered: get(&self.queued).saturating_sub(get(&self.done)),
        }
    }
}

/// The sending thread and its queue.
pub struct AlertSender {
    queue: Option<Sender<(String, String)>>,
    counts: Arc<Counts>,
    thread: Option<JoinHandle<()>>,
    /// Disconnected when the thread has delivered everything.
    finished: Option<Receiver<()>>,
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
                finished: None,
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
            .timeout_connect(Some(WEBHOOK_CONNECT_TIMEOUT))
            .timeout_global(Some(WEBHOOK_TIMEOUT))
            .build()
            .into();
        let webhook = outputs.webhook.clone();
        let (queue, waiting) = bounded::<(String, String)>(QUEUE);
        let (running, finished) = bounded::<()>(0);
        let shared = counts.clone();
        let thread = std::thread::Builder::new()
            .name("alert delivery".into())
            .spawn(move || {
                // Dropped when every alert is delivered: `finish` stops waiting.
                let _running = running;
                for (rule, json) in waiting {
                    if shared.given_up.load(Ordering::Relaxed) {
                        // Counted as undelivered.
                        continue;
                    }
                    let shown = crate::format::printable(&rule);
                    if let Some((producer, topic, redactor)) = &producer {
                        let record = FutureRecord::to(topic).key(&rule).payload(&json);
                        let delivered =
                            futures_executor::block_on(producer.send(record, DELIVERY_TIMEOUT));
                        let counter = match delivered {
                            Ok(_) => &shared.topic_sent,
                            Err((e, _)) => {
                                log::warn!(
                                    "alert `{shown}` not delivered to `{topic}`: {}",
                                    redactor.clean(&e.to_string())
                                );
                                &shared.topic_failures
                            }
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(url) = &webhook {
                        match post(&agent, url, &json, &shared.given_up) {
                            Ok(()) => {
                                shared.webhook_sent.fetch_add(1, Ordering::Relaxed);
                            }
                            // The run ended meanwhile: counted as undelivered.
                            Err(None) => continue,
                            Err(Some(e)) => {
                                log::warn!("alert `{shown}` not delivered to the webhook: {e}");
                                shared.webhook_failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    shared.done.fetch_add(1, Ordering::Relaxed);
                }
            })
            .map_err(|e| format!("cannot start the alert delivery thread: {e}"))?;
        Ok(AlertSender {
            queue: Some(queue),
            counts,
            thread: Some(thread),
            finished: Some(finished),
        })
    }

    /// Queues `alert` for delivery without waiting.
    pub fn send(&self, alert: &Alert) {
        let Some(queue) = &self.queue else {
            return;
        };
        let json = serde_json::to_string(alert).unwrap_or_default();
        match queue.try_send((alert.rule.clone(), json)) {
            Ok(()) => {
                self.counts.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How delivery has gone so far.
    pub fn counts(&self) -> DeliveryCounts {
        self.counts.read()
    }

    /// Delivers what is queued, waiting [`FINISH_WAIT`] at most: what is
    /// not delivered by then is given up (no attempt begins after) and
    /// counted as `undelivered`.
    pub fn finish(mut self) -> DeliveryCounts {
        drop(self.queue.take());
        let over = self
            .finished
            .take()
            .map(|finished| finished.recv_timeout(FINISH_WAIT));
        let thread = self.thread.take();
        if let Some(Err(RecvTimeoutError::Timeout)) = over {
            // The thread is left to end with the process; it begins
            // nothing more.
            self.counts.given_up.store(true, Ordering::Relaxed);
        } else if let Some(thread) = thread
            && thread.join().is_err()
        {
            log::error!("the alert delivery thread panicked");
        }
        self.counts.read()
    }
}

/// POSTs `json` to `url`, retrying with a doubling pause until `given_up`;
/// Err(None) when given up before an answer.
fn post(
    agent: &ureq::Agent,
    url: &str,
    json: &str,
    given_up: &AtomicBool,
) -> Result<(), Option<String>> {
    let mut pause = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        if given_up.load(Ordering::Relaxed) {
            return Err(None);
        }
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
    Err(Some(format!("{last} (after {WEBHOOK_ATTEMPTS} attempts)")))
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
