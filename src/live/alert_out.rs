//! Where alerts and the triggers' actions go besides the screen and
//! standard output: Kafka topics (an alert keyed by its rule's name, an
//! action by its customer; each delivery confirmed) and webhooks (an HTTP
//! POST of the JSON, retried with backoff a bounded number of times, and
//! tried once while the webhook stays down), those given for every alert
//! (`--alerts-topic`, `--alerts-webhook`) and each rule's own (its `topic`
//! and `webhook`), all on a thread of their own so that ingesting never
//! waits for them. A webhook request gives up after a few seconds, and the
//! end of a run waits for what is still being delivered a few seconds at
//! most. What could not be delivered is counted, never silently lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;

use crate::background::{Worker, no_waker};
use crate::engine::alerts::{Alert, AlertRule, RuleOutputs};
use crate::source::kafka::{ClientError, Redactor, create_client};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTopic {
    /// Bootstrap servers.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// Client properties (`-X`).
    pub properties: Vec<(String, String)>,
}

/// Where to send every alert, whatever its rule (the command line's
/// `--alerts-topic` and `--alerts-webhook`).
#[derive(Debug, Clone, Default)]
pub struct AlertOutputs {
    /// Produce to this topic.
    pub topic: Option<AlertTopic>,
    /// POST to this URL.
    pub webhook: Option<String>,
}

/// One place an alert is delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Produced to a topic.
    Topic(AlertTopic),
    /// POSTed to a URL.
    Webhook(String),
}

/// Where a watched stream's alerts go: the outputs given for every alert,
/// and the stream's brokers and client properties (a rule's topic without
/// brokers of its own is on them).
pub struct StreamOutputs<'a> {
    /// The outputs given for every alert.
    pub outputs: &'a AlertOutputs,
    /// The stream's brokers.
    pub brokers: &'a str,
    /// Its client properties.
    pub properties: &'a [(String, String)],
}

impl AlertOutputs {
    /// Where every action of the triggers goes: the topic (produced with
    /// the idempotent producer) and the webhook.
    pub fn action_destinations(&self) -> Vec<Destination> {
        let mut to = Vec::new();
        if let Some(topic) = &self.topic {
            let mut topic = topic.clone();
            topic
                .properties
                .push(("enable.idempotence".into(), "true".into()));
            to.push(Destination::Topic(topic));
        }
        if let Some(url) = &self.webhook {
            to.push(Destination::Webhook(url.clone()));
        }
        to
    }

    /// Where an alert of a rule with `own` outputs goes: the outputs given
    /// for every alert and the rule's own, each place once. A rule's topic
    /// without brokers of its own is on the watched stream's `brokers`,
    /// reached with its client `properties`; one on other brokers is
    /// reached without them (the stream's credentials are not sent
    /// elsewhere).
    pub fn destinations(
        &self,
        own: &RuleOutputs,
        brokers: &str,
        properties: &[(String, String)],
    ) -> Vec<Destination> {
        let mut to = Vec::new();
        let mut add = |d: Destination| {
            if !to.contains(&d) {
                to.push(d);
            }
        };
        if let Some(topic) = &self.topic {
            add(Destination::Topic(topic.clone()));
        }
        if let Some(topic) = &own.topic {
            let elsewhere = own.brokers.as_deref().filter(|b| *b != brokers);
            add(Destination::Topic(AlertTopic {
                brokers: elsewhere.unwrap_or(brokers).to_owned(),
                topic: topic.clone(),
                properties: match elsewhere {
                    Some(_) => Vec::new(),
                    None => properties.to_vec(),
                },
            }));
        }
        for url in [&self.webhook, &own.webhook].into_iter().flatten() {
            add(Destination::Webhook(url.clone()));
        }
        to
    }
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

/// An alert or an action waiting to be delivered: its key (the rule's
/// name, or the action's customer), its JSON, where to, and how it is
/// counted.
struct Queued {
    key: String,
    json: String,
    to: Vec<Destination>,
    counts: Arc<Counts>,
    /// An action's id, said back once its delivery is over.
    action: Option<String>,
    /// `alert` or `action for`, for the log.
    what: &'static str,
}

/// The delivery worker and what it counts.
pub struct AlertSender {
    /// Takes the queued alerts and actions; None once finished.
    worker: Worker<Queued, ()>,
    counts: Arc<Counts>,
    /// How delivering the triggers' actions has gone.
    action_counts: Arc<Counts>,
    /// Actions whose delivery is over (sent, or failed after every
    /// attempt), not yet taken.
    done_actions: Arc<std::sync::Mutex<Vec<String>>>,
}

/// A producer for each set of brokers and client properties alerts went
/// to, made when first needed.
struct Producers {
    made: Vec<(AlertTopic, FutureProducer, Redactor)>,
}

impl Producers {
    /// A producer for `to`'s brokers and properties.
    fn make(to: &AlertTopic) -> Result<FutureProducer, ClientError> {
        create_client(
            &[("bootstrap.servers", to.brokers.as_str())],
            &to.properties,
        )
    }

    /// The producer for `to`, made now when there is none yet.
    fn get(
        &mut self,
        to: &AlertTopic,
    ) -> Result<&(AlertTopic, FutureProducer, Redactor), ClientError> {
        let same = |t: &AlertTopic| t.brokers == to.brokers && t.properties == to.properties;
        let k = match self.made.iter().position(|(t, ..)| same(t)) {
            Some(k) => k,
            None => {
                let producer = Producers::make(to)?;
                self.made
                    .push((to.clone(), producer, Redactor::new(&to.properties)));
                self.made.len() - 1
            }
        };
        Ok(&self.made[k])
    }
}

impl AlertSender {
    /// Starts the delivery thread; the producer for `outputs`' topic is
    /// made at once, so that a client property it refuses stops the run
    /// before anything is read (those of rules' topics are made when their
    /// first alert comes, a failure counted and logged).
    pub fn start(outputs: &AlertOutputs) -> Result<AlertSender, ClientError> {
        let counts = Arc::new(Counts::default());
        let mut producers = Producers { made: Vec::new() };
        if let Some(to) = &outputs.topic {
            producers.get(to)?;
        }
        let mut webhooks = Webhooks {
            agent: ureq::Agent::config_builder()
                .timeout_connect(Some(WEBHOOK_CONNECT_TIMEOUT))
                .timeout_global(Some(WEBHOOK_TIMEOUT))
                .build()
                .into(),
            down: Default::default(),
        };
        let done_actions = Arc::new(std::sync::Mutex::new(Vec::new()));
        let done = done_actions.clone();
        let worker =
            Worker::spawn_with_room("alert delivery", QUEUE, no_waker(), move |_, waiting, _| {
                // Ends once the sender is finished and every queued alert is
                // delivered (or given up).
                // What waits is taken together, so that the topic has many
                // records in flight at once.
                while let Ok(first) = waiting.recv() {
                    let mut batch = vec![first];
                    while batch.len() < QUEUE
                        && let Ok(next) = waiting.try_recv()
                    {
                        batch.push(next);
                    }
                    let produced = produce_all(&batch, &mut producers);
                    for (queued, produced) in batch.into_iter().zip(produced) {
                        if deliver(&queued, produced, &mut webhooks)
                            && let Some(id) = queued.action
                        {
                            crate::background::lock(&done).push(id);
                        }
                    }
                }
                Ok(())
            });
        Ok(AlertSender {
            worker,
            counts,
            action_counts: Arc::new(Counts::default()),
            done_actions,
        })
    }

    /// Queues a trigger's action for delivery to `to` without waiting,
    /// keyed by its customer; false when too many wait (it stays with the
    /// triggers' undelivered actions, to be queued again).
    pub fn send_action(
        &self,
        action: &crate::engine::triggers::Action,
        to: Vec<Destination>,
    ) -> bool {
        if to.is_empty() {
            return true;
        }
        let queued = Queued {
            key: action.customer.clone(),
            json: serde_json::to_string(action).unwrap_or_default(),
            to,
            counts: self.action_counts.clone(),
            action: Some(action.id.clone()),
            what: "the action for",
        };
        let taken = self.worker.send(queued);
        if taken {
            self.action_counts.queued.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    /// The actions whose delivery is over since the last call.
    pub fn take_done_actions(&self) -> Vec<String> {
        std::mem::take(&mut *crate::background::lock(&self.done_actions))
    }

    /// How delivering the actions has gone so far.
    pub fn action_counts(&self) -> DeliveryCounts {
        self.action_counts.read()
    }

    /// Queues each alert `raised` for delivery to the outputs given for
    /// every alert and its rule's own, without waiting.
    pub fn send_raised(&self, raised: &[Alert], rules: &[AlertRule], stream: &StreamOutputs<'_>) {
        for alert in raised {
            let own = rules.iter().find(|r| r.name == alert.rule);
            let own = own.map(|r| r.outputs.clone()).unwrap_or_default();
            let to = stream
                .outputs
                .destinations(&own, stream.brokers, stream.properties);
            self.send(alert, to);
        }
    }

    /// Queues `alert` for delivery to `to` without waiting (nowhere to
    /// send it: nothing is queued or counted).
    pub fn send(&self, alert: &Alert, to: Vec<Destination>) {
        if to.is_empty() {
            return;
        }
        let json = serde_json::to_string(alert).unwrap_or_default();
        let queued = Queued {
            key: alert.rule.clone(),
            json,
            to,
            counts: self.counts.clone(),
            action: None,
            what: "alert",
        };
        let counter = match self.worker.send(queued) {
            true => &self.counts.queued,
            false => &self.counts.dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// How delivery has gone so far.
    pub fn counts(&self) -> DeliveryCounts {
        self.counts.read()
    }

    /// Delivers what is queued, waiting [`FINISH_WAIT`] at most: what is
    /// not delivered by then is given up (no attempt begins after) and
    /// counted as `undelivered`.
    pub fn finish(self) -> DeliveryCounts {
        self.finish_both().0
    }

    /// Finishes as [`AlertSender::finish`] does: how delivering alerts and
    /// actions went, and the actions whose delivery is over.
    pub fn finish_both(mut self) -> (DeliveryCounts, DeliveryCounts, Vec<String>) {
        match self.worker.finish_within(FINISH_WAIT) {
            // The worker is left to end with the process; it begins
            // nothing more.
            None => {
                self.counts.given_up.store(true, Ordering::Relaxed);
                self.action_counts.given_up.store(true, Ordering::Relaxed);
            }
            Some(Err(why)) => log::error!("{why}"),
            Some(Ok(())) => {}
        }
        let done = self.take_done_actions();
        (self.counts.read(), self.action_counts.read(), done)
    }
}

/// How producing one queued item to each of its topics went, in the order
/// of its topic destinations.
type Produced = Vec<Result<(), String>>;

/// Produces every item of `batch` to its topics: all records are handed to
/// their producers first, then each delivery is awaited.
fn produce_all(batch: &[Queued], producers: &mut Producers) -> Vec<Produced> {
    let mut pending = Vec::with_capacity(batch.len());
    for queued in batch {
        let mut mine = Vec::new();
        for to in &queued.to {
            let Destination::Topic(to) = to else {
                continue;
            };
            let started =
                producers
                    .get(to)
                    .map_err(|e| e.to_string())
                    .map(|(_, producer, redactor)| {
                        let record = FutureRecord::to(&to.topic)
                            .key(&queued.key)
                            .payload(&queued.json);
                        let future = match producer.send_result(record) {
                            Ok(future) => Ok(future),
                            // A full producer queue: this one waits its turn.
                            Err((_, record)) => Err(futures_executor::block_on(
                                producer.send(record, DELIVERY_TIMEOUT),
                            )
                            .map(|_| ())
                            .map_err(|(e, _)| redactor.clean(&e.to_string()))),
                        };
                        (future, redactor.clone())
                    });
            mine.push(started);
        }
        pending.push(mine);
    }
    pending
        .into_iter()
        .map(|mine| {
            mine.into_iter()
                .map(|started| match started? {
                    (Ok(future), redactor) => match futures_executor::block_on(future) {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err((e, _))) => Err(redactor.clean(&e.to_string())),
                        Err(_) => Err("the producer stopped".into()),
                    },
                    (Err(done), _) => done,
                })
                .collect()
        })
        .collect()
}

/// Counts how producing one alert or action went and delivers it to its
/// webhooks; stops, uncounted (undelivered), once the run has given up.
/// True when its delivery is over.
fn deliver(queued: &Queued, produced: Produced, webhooks: &mut Webhooks) -> bool {
    let counts = &*queued.counts;
    let shown = crate::format::printable(&queued.key);
    let mut produced = produced.into_iter();
    for to in &queued.to {
        if counts.given_up.load(Ordering::Relaxed) {
            return false;
        }
        match to {
            Destination::Topic(to) => {
                let sent = produced.next().unwrap_or(Err("not produced".into()));
                let counter = match sent {
                    Ok(()) => &counts.topic_sent,
                    Err(e) => {
                        let topic = crate::format::printable(&to.topic);
                        log::warn!("{} `{shown}` not delivered to `{topic}`: {e}", queued.what);
                        &counts.topic_failures
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Destination::Webhook(url) => match webhooks.post(url, &queued.json, &counts.given_up) {
                Ok(()) => {
                    counts.webhook_sent.fetch_add(1, Ordering::Relaxed);
                }
                // The run ended meanwhile: counted as undelivered.
                Err(None) => return false,
                Err(Some(e)) => {
                    let url = crate::source::values::shown_url(url);
                    let url = crate::format::printable(&url);
                    log::warn!(
                        "{} `{shown}` not delivered to the webhook {url}: {e}",
                        queued.what
                    );
                    counts.webhook_failures.fetch_add(1, Ordering::Relaxed);
                }
            },
        }
    }
    counts.done.fetch_add(1, Ordering::Relaxed);
    true
}

/// The HTTP client, and the webhooks whose last delivery failed every
/// attempt: those are tried once per delivery until one answers again, so
/// that a webhook that is down does not hold up what queues behind it.
struct Webhooks {
    agent: ureq::Agent,
    down: rustc_hash::FxHashSet<String>,
}

impl Webhooks {
    /// POSTs `json` to `url`, retrying with a doubling pause (once when the
    /// webhook is down) until `given_up`; Err(None) when given up before an
    /// answer.
    fn post(&mut self, url: &str, json: &str, given_up: &AtomicBool) -> Result<(), Option<String>> {
        let attempts = match self.down.contains(url) {
            true => 1,
            false => WEBHOOK_ATTEMPTS,
        };
        let mut pause = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=attempts {
            if given_up.load(Ordering::Relaxed) {
                return Err(None);
            }
            match self
                .agent
                .post(url)
                .header("content-type", "application/json")
                .send(json)
            {
                Ok(_) => {
                    self.down.remove(url);
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            if attempt < attempts {
                std::thread::sleep(pause);
                pause *= 2;
            }
        }
        self.down.insert(url.to_owned());
        Err(Some(match attempts {
            1 => format!("{last} (down: tried once)"),
            n => format!("{last} (after {n} attempts)"),
        }))
    }
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
            e.to_string().contains("security.protocol") && !e.to_string().contains("SECRET123"),
            "{e}"
        );
    }
}
