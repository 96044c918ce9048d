//! The worker's consumer context: the group's assignments and
//! revocations, each partition taken on from its snapshot or published
//! before it goes (see [`super::Core`]).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rdkafka::TopicPartitionList;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaRespErr;

use crate::background::lock;
use crate::source::SourceError;
use crate::source::kafka::{Redactor, is_partition_end};

use super::Core;

/// The worker's consumer context: assigns and revokes partitions itself,
/// so that each starts from its snapshot and leaves with one.
pub(super) struct Rebalancing {
    pub(super) core: Arc<Mutex<Core>>,
    pub(super) redactor: Redactor,
}

impl ClientContext for Rebalancing {
    fn error(&self, error: KafkaError, reason: &str) {
        if !is_partition_end(&error) {
            let text = self.redactor.clean(&format!("{error}: {reason}"));
            log::error!("librdkafka: {text}");
        }
    }
}

impl ConsumerContext for Rebalancing {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let mut core = lock(&self.core);
        let ids: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        let outcome = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                core.generation.fetch_add(1, Ordering::SeqCst);
                for (topic, partition) in &ids {
                    match core.adopt(*partition) {
                        Ok(offset) => {
                            if let Err(e) = tpl.set_partition_offset(topic, *partition, offset) {
                                core.failure
                                    .get_or_insert(SourceError::Kafka(e.to_string()));
                            }
                        }
                        Err(e) => {
                            core.failure.get_or_insert(e);
                        }
                    }
                }
                log::info!(
                    "assigned partitions {:?}",
                    ids.iter().map(|x| x.1).collect::<Vec<_>>()
                );
                match cooperative {
                    true => consumer.incremental_assign(tpl),
                    false => consumer.assign(tpl),
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                for (_, partition) in &ids {
                    if let Err(e) = core.release(*partition) {
                        core.failure.get_or_insert(e);
                    }
                }
                log::info!(
                    "revoked partitions {:?}",
                    ids.iter().map(|x| x.1).collect::<Vec<_>>()
                );
                match cooperative {
                    true => consumer.incremental_unassign(tpl),
                    false => consumer.unassign(),
                }
            }
            other => {
                log::warn!("rebalancing failed: {:?}", other);
                for (_, partition) in &ids {
                    core.held.remove(partition);
                }
                consumer.unassign()
            }
        };
        if let Err(e) = outcome {
            core.failure
                .get_or_insert(SourceError::Kafka(self.redactor.clean(&e.to_string())));
        }
    }
}
