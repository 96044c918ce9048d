//! A Kafka topic read live. One loop ([`LiveRun`]) polls the reader, takes
//! each batch into the live engine, checks the alert rules, hands alerts
//! to delivery and saves the state; [`shown`] decides, in one place, what
//! a window of it shows (since start, the last minutes or a fixed range)
//! and what it is compared with. Headless `live`, the window's engine
//! thread and `bench --kafka` all drive the same loop and differ only in
//! what they do with its output.

pub mod action_out;
pub mod alert_out;
pub mod merged;
pub mod merged_alerts;
mod run;
pub mod session;
pub mod shown;
pub mod snapshot;
pub mod state_topic;
pub mod window;
pub mod worker;

pub use run::{LiveError, LiveRun, LiveSetup, Step};
pub use session::LiveSession;
pub use shown::{Compared, ShownCopy, copy_compared, copy_shown};
pub use window::LiveWindow;
